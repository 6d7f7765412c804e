//! What the figures were measured on: cores, CPU model, OS, memory, load and date, read from
//! `/proc` and `/etc/os-release` (Linux; elsewhere the fields say `unknown`).

pub struct Machine {
    /// Cores this process may use (`available_parallelism`: affinity and cgroup quota).
    pub usable: usize,
    /// Logical CPUs listed in `/proc/cpuinfo`.
    pub logical: usize,
    pub cpu: String,
    pub os: String,
    pub memory: String,
    /// `/proc/loadavg` when the run started: the machine may be shared.
    pub load: String,
    /// UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
    pub profile: &'static str,
}

impl Machine {
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once([':', '=']))
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
        };
        let os = field(&read("/etc/os-release"), "PRETTY_NAME").unwrap_or_else(|| "unknown".into());
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
        let memory = field(&read("/proc/meminfo"), "MemTotal")
            .and_then(|v| v.trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
            );
        let load = load_now();
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            usable: std::thread::available_parallelism().map_or(1, |n| n.get()),
            logical: cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count(),
            cpu: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            os: if kernel.is_empty() {
                os
            } else {
                format!("{os}, Linux {kernel}")
            },
            memory,
            load: if load.is_empty() {
                "unknown".into()
            } else {
                load
            },
            date,
            profile: if cfg!(debug_assertions) {
                "debug (figures are not representative: use --release)"
            } else {
                "release"
            },
        }
    }
}

/// `/proc/loadavg`'s 1, 5 and 15-minute figures.
pub fn load_now() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = text
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    if load.is_empty() {
        "unknown".into()
    } else {
        load
    }
}
