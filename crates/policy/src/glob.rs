//! Globs over resource addresses, for suppressions: `*` matches any run of characters (`/`
//! included), `?` one character; everything else matches itself.

/// Whether `text` matches `pattern` as a whole.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn stars_and_question_marks() {
        let a = "us-east-1/rds:DbInstance/app-db";
        for (pattern, matches) in [
            (a, true),
            ("*", true),
            ("*/rds:*", true),
            ("us-*-1/rds:DbInstance/app-??", true),
            ("*/rds:DbReadReplica/*", false),
            ("us-east-1/rds:DbInstance/app", false),
            ("us-east-1/rds:DbInstance/app-db*", true),
            ("", false),
        ] {
            assert_eq!(glob_match(pattern, a), matches, "{pattern}");
        }
        assert!(glob_match("", ""));
    }
}
