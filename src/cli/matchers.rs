//! Matcher arguments in amtool's syntax (`alertname=Foo`, `team=~"db|infra"`, `env!=dev`),
//! parsed by the alertmanager crate's parser, the one the server uses, so the CLI accepts
//! exactly what the server does and a bad matcher is refused before any request is sent,
//! with its position.

use pharos_alertmanager::matcher::{MatchOp, Matcher, Matchers};
use pharos_alertmanager::silence::ApiMatcher;

use super::Rejected;

/// The matchers of the arguments, in order. Each argument is one matcher or a list
/// (`{a="b", c!="d"}` or `a=b,c=d`). As in amtool, a first argument with no operator is the
/// alert name: `pharos silence add DiskFull …` means `alertname="DiskFull"`.
pub fn parse_args(args: &[String]) -> Result<Vec<Matcher>, Rejected> {
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i == 0 && is_bare_name(arg) {
            let m = Matcher::new("alertname", MatchOp::Eq, arg.trim())
                .map_err(|e| Rejected::new(format!("bad matcher {arg:?}: {}", e.msg)))?;
            out.push(m);
            continue;
        }
        match Matchers::parse(arg) {
            Ok(Matchers(ms)) if ms.is_empty() => {
                return Err(Rejected::new(format!(
                    "bad matcher {arg:?}: expected a matcher like name=\"value\""
                )))
            }
            Ok(Matchers(ms)) => out.extend(ms),
            Err(e) => {
                let which = if args.len() > 1 {
                    format!(" (argument {})", i + 1)
                } else {
                    String::new()
                };
                return Err(Rejected {
                    // Reads "at position N: …" (a byte offset, 0-based), as the server says it.
                    message: format!(
                        "bad matcher {arg:?}{which} at position {}: {}",
                        e.pos,
                        one_line(&e.msg)
                    ),
                    status: None,
                    at: Some((arg.clone(), e.pos)),
                });
            }
        }
    }
    Ok(out)
}

/// The regex crate's multi-line error (the anchored pattern with its own caret, then
/// `error: …`) as one line, since the caret printed under the argument says where.
fn one_line(msg: &str) -> String {
    let mut lines = msg.lines();
    let first = lines.next().unwrap_or_default();
    match lines.next_back() {
        None => first.to_string(),
        Some(last) => format!(
            "{} {}",
            first.trim_end_matches("regex parse error:").trim_end(),
            last.trim().trim_start_matches("error: ")
        ),
    }
}

/// A plain word (`DiskFull`, `node:cpu-high`), which amtool takes as the alert name. Anything
/// with other characters is parsed as a matcher, so a typo like `team<>db` is reported as one
/// rather than silently becoming an alert name.
fn is_bare_name(arg: &str) -> bool {
    let arg = arg.trim();
    !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}

/// The matchers as the `filter` query parameters of the v2 API (one per matcher, quoted as
/// the server's parser reads them back).
pub fn filter_params(matchers: &[Matcher]) -> Vec<(&'static str, String)> {
    matchers.iter().map(|m| ("filter", m.to_string())).collect()
}

/// The matchers as a silence's JSON `{name, value, isRegex, isEqual}`.
pub fn api_matchers(matchers: &[Matcher]) -> Vec<ApiMatcher> {
    matchers.iter().map(ApiMatcher::from).collect()
}

/// A silence's matchers as text for a table cell: `alertname="Foo" team=~"db|infra"`.
pub fn describe(api: &[ApiMatcher]) -> String {
    api.iter()
        .map(|m| {
            let op = MatchOp::from_flags(m.is_regex, m.is_equal);
            // Display quotes and escapes the value as the parser reads it back; building a
            // Matcher can only fail on a bad regex, which then is shown as it came.
            match Matcher::new(&m.name, op, &m.value) {
                Ok(matcher) => matcher.to_string(),
                Err(_) => format!("{}{}{:?}", m.name, op.as_str(), m.value),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Vec<String>, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_args(&args)
            .map(|ms| ms.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn amtool_syntax() {
        assert_eq!(
            parse(&["alertname=Foo", "team=~\"db|infra\"", "env!=dev", "x!~y.*"]),
            Ok(vec![
                "alertname=\"Foo\"".into(),
                "team=~\"db|infra\"".into(),
                "env!=\"dev\"".into(),
                "x!~\"y.*\"".into(),
            ])
        );
        assert_eq!(
            parse(&["{a=\"b\", c=d}"]),
            Ok(vec!["a=\"b\"".into(), "c=\"d\"".into()])
        );
    }

    #[test]
    fn a_bare_first_word_is_the_alert_name() {
        assert_eq!(
            parse(&["DiskFull", "team=db"]),
            Ok(vec!["alertname=\"DiskFull\"".into(), "team=\"db\"".into()])
        );
        // Only the first: later ones must be matchers.
        assert!(parse(&["team=db", "DiskFull"]).is_err());
    }

    #[test]
    fn bad_matchers_name_the_position() {
        let err = parse(&["alertname=Foo", "team=~\"db|(\""])
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("bad matcher"), "{err}");
        assert!(err.contains("(argument 2) at position 6"), "{err}");
        assert!(
            err.contains("invalid regex \"db|(\": unclosed group\n"),
            "{err}"
        );
        assert!(err.ends_with("team=~\"db|(\"\n        ^"), "{err:?}");
        let err = parse(&["1abc=x"]).err().unwrap_or_default();
        assert!(err.contains("at position 0"), "{err}");
        let err = parse(&["a=b", "team<>x"]).err().unwrap_or_default();
        assert!(err.contains("at position 4: expected one of"), "{err}");
        let err = parse(&["team<>x"]).err().unwrap_or_default();
        assert!(err.contains("at position 4: expected one of"), "{err}");
        assert!(parse(&["{}"]).is_err());
    }

    #[test]
    fn filters_and_api_shape() {
        let ms = parse_args(&["team=~db|infra".to_string()]).unwrap_or_default();
        assert_eq!(
            filter_params(&ms),
            vec![("filter", "team=~\"db|infra\"".to_string())]
        );
        let api = api_matchers(&ms);
        assert_eq!(
            serde_json::to_value(&api).unwrap_or_default(),
            serde_json::json!([{"name": "team", "value": "db|infra", "isRegex": true, "isEqual": true}])
        );
        assert_eq!(describe(&api), "team=~\"db|infra\"");
    }
}
