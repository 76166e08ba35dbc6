//! Validators: checks run on a matched string before it becomes a finding. None allocates.

use crate::rule::Validator;

/// Runs `validator` on `text`.
pub(crate) fn check(validator: Validator, text: &str, min_entropy: Option<f64>) -> bool {
    match validator {
        Validator::Luhn => luhn(text),
        Validator::Iban => iban(text),
        Validator::UsSsn => us_ssn(text),
        Validator::Entropy => shannon_entropy(text) >= min_entropy.unwrap_or(0.0),
        Validator::Secret => shannon_entropy(text) >= min_entropy.unwrap_or(0.0) && !code_name(text),
    }
}

/// `text` is a name from code rather than a secret: words joined by `_`, `.`, `-`, `/` or `::`,
/// or run together in camel case, each word all lower case, all upper case or capitalised, with
/// digits only after it (`btrfs_ioctl_search_key`, `FAST_IO_UNLOCK_ALL_BY_KEY`,
/// `UnicodePassword`, `__bindgen_ty_5`, `mlkem.MLKEM768PrivateKey`, `crate::Token`,
/// `io.modelcontextprotocol/protocolVersion`). Random secrets put digits and case changes inside
/// their runs of letters, so they are never all such words.
pub fn code_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut words = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b'_' | b'.' | b'-' | b':' | b'/') {
            i += 1;
            continue;
        }
        // One word: an upper-case run, or an optional capital then lower case; then digits.
        let start = i;
        if b.is_ascii_uppercase() {
            while i < bytes.len() && bytes[i].is_ascii_uppercase() {
                i += 1;
            }
            // `HTTPServer`: the last capital of a run begins the next word.
            if i < bytes.len() && bytes[i].is_ascii_lowercase() {
                if i - start > 1 {
                    i -= 1;
                }
                while i < bytes.len() && bytes[i].is_ascii_lowercase() {
                    i += 1;
                }
            }
        } else if b.is_ascii_lowercase() {
            while i < bytes.len() && bytes[i].is_ascii_lowercase() {
                i += 1;
            }
        } else if !b.is_ascii_digit() {
            return false;
        }
        let digits = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        // A word of letters then digits is followed by a separator, a capital or the end: `ab1c`
        // is not a word.
        if i < bytes.len() && i > digits && bytes[i].is_ascii_lowercase() {
            return false;
        }
        words += 1;
    }
    words > 0
}

/// Luhn checksum over the ASCII digits of `text` (separators ignored); 12 to 19 digits.
pub fn luhn(text: &str) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if !(12..=19).contains(&digits) {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in text.bytes().rev().filter(u8::is_ascii_digit).map(|b| u32::from(b - b'0')).enumerate() {
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
    }
    sum % 10 == 0
}

/// IBAN: a known country length and the ISO 13616 mod-97 check (spaces ignored).
pub fn iban(text: &str) -> bool {
    let mut chars = [0u8; 34];
    let mut n = 0;
    for b in text.bytes() {
        if b == b' ' || b == b'-' {
            continue;
        }
        if n == chars.len() || !b.is_ascii_alphanumeric() {
            return false;
        }
        chars[n] = b.to_ascii_uppercase();
        n += 1;
    }
    if n < 15 {
        return false;
    }
    let iban = &chars[..n];
    if !iban[0].is_ascii_alphabetic()
        || !iban[1].is_ascii_alphabetic()
        || !iban[2].is_ascii_digit()
        || !iban[3].is_ascii_digit()
    {
        return false;
    }
    if let Some(len) = iban_length(&iban[..2]) {
        if len != n {
            return false;
        }
    }
    let mut rem: u32 = 0;
    for &b in iban[4..].iter().chain(iban[..4].iter()) {
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            let v = u32::from(b - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// Registered IBAN lengths by country (SWIFT IBAN registry); `None` for a country not listed.
fn iban_length(country: &[u8]) -> Option<usize> {
    let len = match country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" => 20,
        b"CH" | b"CR" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" => 22,
        b"AE" | b"GI" | b"IL" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"IQ" | b"JO" | b"KW" | b"MU" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        _ => return None,
    };
    Some(len)
}

/// US SSN `AAA-GG-SSSS` (separators `-`, space or none): area not 000, 666 or 900–999, group
/// not 00, serial not 0000.
pub fn us_ssn(text: &str) -> bool {
    let mut d = [0u32; 9];
    let mut n = 0;
    for b in text.bytes() {
        if b.is_ascii_digit() {
            if n == 9 {
                return false;
            }
            d[n] = u32::from(b - b'0');
            n += 1;
        }
    }
    if n != 9 {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Shannon entropy of `text` in bits per byte.
pub fn shannon_entropy(text: &str) -> f64 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_valid_and_rejects_invalid() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("5500-0000-0000-0004"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(!luhn("1234"));
    }

    #[test]
    fn iban_checks_mod97_and_length() {
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(iban("DE89370400440532013000"));
        assert!(!iban("GB82 WEST 1234 5698 7654 33"));
        assert!(!iban("DE8937040044053201300"));
    }

    #[test]
    fn ssn_ranges() {
        assert!(us_ssn("123-45-6789"));
        assert!(!us_ssn("000-45-6789"));
        assert!(!us_ssn("666-45-6789"));
        assert!(!us_ssn("901-45-6789"));
        assert!(!us_ssn("123-00-6789"));
        assert!(!us_ssn("123-45-0000"));
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert!(shannon_entropy("aaaaaaaaaaaa") < 0.1);
        assert!(shannon_entropy("q8Zx3LmP0vT7rK2w") > 3.5);
    }

    #[test]
    fn names_from_code_are_not_secrets() {
        for name in [
            "btrfs_ioctl_search_key",
            "FAST_IO_UNLOCK_ALL_BY_KEY",
            "UnicodePassword",
            "__sifields__bindgen_ty_5__bindgen_ty_1__bindgen_ty_2",
            "crate::token::Token",
            "HTTPServerConfig",
            "node.fat_arrow_token",
            "kVK_Return.u16",
            "get-secret-value",
            "mlkem.MLKEM768PrivateKey",
            "x25519.X25519PublicKey",
            "io.modelcontextprotocol/protocolVersion",
        ] {
            assert!(code_name(name), "{name}");
        }
        for secret in [
            "WRtMZuzLX34tMy6o",
            "Huqh5m8bFvUWUtwfdYwRe79ifkSYS9tr",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "a3f5c9e1d2b4",
            "ab1c",
            "token$",
        ] {
            assert!(!code_name(secret), "{secret}");
        }
        assert!(!code_name(""), "no word");
    }
}
