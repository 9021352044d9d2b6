//! Kubernetes resource quantities (`500m`, `4`, `16Gi`, `1e3`) read in base units: shared by
//! the launch form's checks (in the wasm too) and the GPU inventory's arithmetic.

/// The quantity in base units (cores, bytes, GPUs), or why `text` is not one.
pub fn parse(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => {
            return Err(format!(
                "unknown unit {suffix:?}; use m, k, M, G, T, Ki, Mi, Gi or Ti"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a quantity such as 500m, 4, 16Gi"))?;
    if !value.is_finite() || value < 0.0 {
        return Err("must not be negative".into());
    }
    Ok(value * scale)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn quantities_are_read_in_base_units() {
        assert_eq!(parse("500m"), Ok(0.5));
        assert_eq!(parse("2"), Ok(2.0));
        assert_eq!(parse("4Gi"), Ok(4.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse("1e3"), Ok(1000.0));
        assert_eq!(parse("1.5k"), Ok(1500.0));
        assert!(parse("12Xi").unwrap_err().contains("unknown unit"));
        assert!(parse("-1").unwrap_err().contains("negative"));
        assert!(parse("").unwrap_err().contains("not a quantity"));
    }
}
