//! The child side: this binary run again with [`REPORT_ENV`] set is cfsecrets itself —
//! exactly the command line (`cfsecrets::commands::main`, the binary's own entry) with the
//! arguments it was given. As it exits it writes to the file named by [`REPORT_ENV`] its
//! peak resident memory (VmHWM) and the CPU time it used (user + system, all threads), read
//! from `/proc/self`.

use std::process::ExitCode;
use std::time::Duration;

/// Names the file the child writes its report to; its presence makes this process a child.
pub const REPORT_ENV: &str = "CFSECRETS_BENCH_REPORT";

/// Runs as a child when [`REPORT_ENV`] is set; `None` otherwise.
pub fn run_if_child() -> Option<ExitCode> {
    let report = std::env::var_os(REPORT_ENV)?;
    let code = cfsecrets::commands::main();
    let mut text = String::new();
    if let Some(kib) = peak_kib() {
        text.push_str(&format!("peak_kib={kib}\n"));
    }
    if let Some(cpu) = cpu_time() {
        text.push_str(&format!("cpu_ms={}\n", cpu.as_millis()));
    }
    if std::fs::write(&report, text).is_err() {
        eprintln!("error: cannot write the benchmark report");
        return Some(ExitCode::FAILURE);
    }
    Some(code)
}

/// The process's peak resident set size (VmHWM), in KiB.
pub fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of the whole process so far (`/proc/self/stat`, in clock ticks
/// of 1/100 s, the value of `USER_HZ` on Linux).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: the 3rd
    // field onwards; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
