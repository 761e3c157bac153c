//! Environment and stack names: they become file names (`<state dir>/<stack>/<env>.state.json`,
//! its journal and lock), so a name is refused unless it is plainly one path component.

/// The rule, as error messages state it.
pub const NAME_RULE: &str =
    "1 to 63 characters of a-z, 0-9 and '-', neither starting nor ending with '-'";

/// A name that breaks [`NAME_RULE`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} name {name:?}: a name is {NAME_RULE}")]
pub struct NameError {
    /// What the name names: `environment`, `stack`.
    pub what: &'static str,
    pub name: String,
}

/// Checks that `name` (of an environment or stack: `what`) follows [`NAME_RULE`].
///
/// # Errors
/// [`NameError`] naming the name and the rule.
pub fn check_name(what: &'static str, name: &str) -> Result<(), NameError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let ok = (1..=63).contains(&name.len())
        && name.chars().all(allowed)
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(NameError {
            what,
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_lowercase_names_pass() {
        for good in ["prod-1", "dev", "a", "0", "multi-region", &"x".repeat(63)] {
            assert_eq!(check_name("environment", good), Ok(()), "{good}");
        }
        let long = "x".repeat(64);
        for bad in [
            "", "..", ".", "../../x", "a/b", "UPPER", "x y", "-a", "a-", "a_b", "a.b", "é", "a\0",
            &long,
        ] {
            let err = check_name("environment", bad).unwrap_err();
            assert_eq!(err.name, bad);
            assert!(err.to_string().contains(NAME_RULE), "{err}");
        }
        assert_eq!(
            check_name("stack", "a/b").unwrap_err().to_string(),
            "invalid stack name \"a/b\": a name is 1 to 63 characters of a-z, 0-9 and '-', neither starting nor ending with '-'"
        );
    }
}
