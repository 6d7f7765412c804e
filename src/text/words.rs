//! Count words and numbers as messages write them: `1 store`, `2 stores`, `250,000`,
//! `1,048,576 bytes`.

/// `1 store`, `2 stores`: a number with its noun in the right form.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `250,000`: a number with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1,048,576 bytes`: a byte count with thousands separators.
pub fn bytes(n: u64) -> String {
    format!("{} {}", thousands(n), if n == 1 { "byte" } else { "bytes" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pick_the_form() {
        assert_eq!(count(0, "store", "stores"), "0 stores");
        assert_eq!(count(1, "store", "stores"), "1 store");
        assert_eq!(count(2, "store", "stores"), "2 stores");
    }

    #[test]
    fn byte_counts_group_thousands() {
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(65_536), "65,536 bytes");
        assert_eq!(bytes(1_048_576), "1,048,576 bytes");
    }
}
