//! Bounds on a PromQL query before and after parsing, so that no query text can exhaust the
//! stack or burn a core in the parser.
//!
//! `promql-parser` is an LR parser whose time grows faster than linearly with the number of
//! nested brackets and binary operators (measured: `1+1…` with 4,000 operators parses in
//! 0.7 s, 20,000 in 15 s; `sum by (job) (` × 5,000 in 7 s), and the evaluator recurses once
//! per AST level. A cheap lexical scan refuses what is too long, too deeply nested or has
//! too many operators before the parser sees it; an iterative walk of the parsed tree then
//! bounds its depth. The limits are far above what people and dashboards write (Grafana's
//! longest generated queries are a few hundred `or` terms).

use promql_parser::parser::Expr;

use super::PromError;

/// Longest query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 128 * 1024;
/// Deepest nesting of `(`, `[` and `{`.
pub const MAX_NESTING: usize = 128;
/// Most binary operators (`+ - * / % ^ == != < > <= >= and or unless atan2`) in one query.
pub const MAX_OPERATORS: usize = 1_000;
/// Deepest parsed expression tree (it bounds the evaluator's recursion).
pub const MAX_DEPTH: usize = 1_200;

/// Refuses query text that would make the parser slow or the tree too deep, naming the
/// limit and where it was crossed.
pub fn check_text(expr: &str) -> Result<(), PromError> {
    if expr.len() > MAX_QUERY_BYTES {
        return Err(PromError::BadData(format!(
            "query too long: {} bytes (at most {MAX_QUERY_BYTES})",
            expr.len()
        )));
    }
    let bytes = expr.as_bytes();
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                // Skip a string literal (backslash escapes except in raw backtick strings).
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(PromError::BadData(format!(
                        "query nested too deeply: more than {MAX_NESTING} levels of brackets at byte {i}"
                    )));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' => operators += 1,
            // `==` and `!=` (a matcher's `=`, `!=`, `=~`, `!~` inside braces count too: a
            // generous over-estimate, never an under-estimate).
            b'=' | b'!' if bytes.get(i + 1) == Some(&b'=') => {
                operators += 1;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &expr[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    operators += 1;
                }
                if operators > MAX_OPERATORS {
                    return Err(too_many_operators(start));
                }
                continue;
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(too_many_operators(i));
        }
        i += 1;
    }
    Ok(())
}

fn too_many_operators(at: usize) -> PromError {
    PromError::BadData(format!(
        "query too complex: more than {MAX_OPERATORS} operators (at byte {at})"
    ))
}

/// Refuses a parsed tree deeper than [`MAX_DEPTH`].
pub fn check_depth(root: &Expr) -> Result<(), PromError> {
    if depth(root) > MAX_DEPTH {
        return Err(PromError::BadData(format!(
            "query nested too deeply: its expression tree is more than {MAX_DEPTH} levels deep"
        )));
    }
    Ok(())
}

/// The depth of a parsed tree (a lone selector is 1). Iterative, so it cannot overflow.
pub fn depth(root: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Expr, usize)> = vec![(root, 1)];
    while let Some((e, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let next = depth + 1;
        match e {
            Expr::Aggregate(a) => {
                stack.push((&a.expr, next));
                if let Some(p) = &a.param {
                    stack.push((p, next));
                }
            }
            Expr::Unary(u) => stack.push((&u.expr, next)),
            Expr::Binary(b) => {
                stack.push((&b.lhs, next));
                stack.push((&b.rhs, next));
            }
            Expr::Paren(p) => stack.push((&p.expr, next)),
            Expr::Subquery(s) => stack.push((&s.expr, next)),
            Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| (a.as_ref(), next))),
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(q: &str) -> String {
        match super::super::parse(q) {
            Err(PromError::BadData(m)) => m,
            other => panic!("{q:.40}… was not refused: {other:?}"),
        }
    }

    #[test]
    fn hostile_shapes_are_refused_quickly_with_the_limit_named() {
        let started = std::time::Instant::now();
        let deep = format!("{}up{}", "sum(".repeat(2500), ")".repeat(2500));
        assert!(refused(&deep).contains("nested too deeply"));
        assert!(refused(&"(".repeat(100_000)).contains("nested too deeply"));
        assert!(refused(&format!("1{}", "+1".repeat(100_000))).contains("too long"));
        assert!(refused(&format!("1{}", "+1".repeat(4_000))).contains("more than 1000 operators"));
        assert!(refused(&format!("up{}", " or up".repeat(1_001))).contains("operators"));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn strings_and_comments_do_not_count_and_real_queries_pass() {
        let regex = format!("up{{job=~\"{}\"}}", "(a|b)+-*/".repeat(2000));
        assert!(super::super::parse(&regex).is_ok());
        let comment = format!("up # {}\n", "((((+".repeat(1000));
        assert!(super::super::parse(&comment).is_ok());
        let grafana = (0..200)
            .map(|i| format!("rate(http_requests_total{{job=\"j{i}\"}}[5m])"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(super::super::parse(&grafana).is_ok());
        let nested = format!(
            "{}up{}",
            "(".repeat(MAX_NESTING - 1),
            ")".repeat(MAX_NESTING - 1)
        );
        assert!(super::super::parse(&nested).is_ok());
    }

    #[test]
    fn the_tree_depth_is_bounded_without_recursion() {
        // 1000 left-associative operators: a tree 1001 levels deep, within the limit.
        let chain = format!("1{}", "+1".repeat(MAX_OPERATORS));
        assert!(super::super::parse(&chain).is_ok());
        let ast = promql_parser::parser::parse(&format!("1{}", "+1".repeat(MAX_DEPTH + 5)))
            .expect("parses");
        assert!(matches!(check_depth(&ast), Err(PromError::BadData(_))));
    }

    /// The deepest trees the limits allow evaluate on a thread with tokio's default 2 MiB
    /// stack (as a blocking-pool thread has), in this (debug) build.
    #[test]
    fn the_deepest_allowed_tree_evaluates() {
        use super::super::testing::{labels, MemStore};
        use super::super::{instant_query, PromOptions, PromValue};
        let mut store = MemStore::new();
        store.add(
            labels(&[("__name__", "up"), ("job", "a")]),
            pharos_collector::tsdb::MetricKind::Gauge,
            &[(1_000, 1.0)],
        );
        let queries = [
            format!("up{}", " + up".repeat(MAX_OPERATORS)),
            format!(
                "{}up{}",
                "abs(".repeat(MAX_NESTING - 1),
                ")".repeat(MAX_NESTING - 1)
            ),
            format!(
                "{}up{}",
                "-(".repeat(MAX_NESTING - 1),
                ")".repeat(MAX_NESTING - 1)
            ),
            format!(
                "{}1{}",
                "(1 + ".repeat(MAX_NESTING - 1),
                ")".repeat(MAX_NESTING - 1)
            ),
        ];
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                for q in &queries {
                    let v = instant_query(&store, q, 1_000, &PromOptions::default());
                    assert!(
                        matches!(v, Ok(PromValue::Vector(_)) | Ok(PromValue::Scalar { .. })),
                        "{q:.40}…: {v:?}"
                    );
                }
            })
            .expect("spawn")
            .join()
            .expect("no overflow");
    }

    #[test]
    fn a_cancelled_budget_stops_the_evaluation() {
        use super::super::testing::MemStore;
        use super::super::{instant_query, PromOptions};
        let opts = PromOptions::default();
        opts.budget.cancel();
        let r = instant_query(&MemStore::new(), "sum(up) + 1", 0, &opts);
        assert!(matches!(r, Err(PromError::Cancelled(_))), "{r:?}");
    }
}
