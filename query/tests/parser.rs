//! The query language parser: exact trees for every construct, exact errors for typical
//! mistakes, and property tests (never panics; printing and parsing round-trip).

use pharos_query::lang::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Span erasing and builders

fn no_span() -> Span {
    Span::default()
}

fn erase_ident(i: &Ident) -> Ident {
    Ident {
        name: i.name.clone(),
        span: no_span(),
    }
}

fn erase_lit(l: &Literal) -> Literal {
    Literal {
        text: l.text.clone(),
        span: no_span(),
    }
}

fn erase_bound(b: &RangeBound) -> RangeBound {
    match b {
        RangeBound::Included(l) => RangeBound::Included(erase_lit(l)),
        RangeBound::Excluded(l) => RangeBound::Excluded(erase_lit(l)),
        RangeBound::Unbounded => RangeBound::Unbounded,
    }
}

fn erase_pred(p: &Predicate) -> Predicate {
    match p {
        Predicate::Term(l) => Predicate::Term(erase_lit(l)),
        Predicate::Phrase(l) => Predicate::Phrase(erase_lit(l)),
        Predicate::Prefix(l) => Predicate::Prefix(erase_lit(l)),
        Predicate::Regex(l) => Predicate::Regex(erase_lit(l)),
        Predicate::Compare(op, l) => Predicate::Compare(*op, erase_lit(l)),
        Predicate::Range { lower, upper } => Predicate::Range {
            lower: erase_bound(lower),
            upper: erase_bound(upper),
        },
        Predicate::Exists => Predicate::Exists,
    }
}

fn erase_expr(e: &Expr) -> Expr {
    match e {
        Expr::All => Expr::All,
        Expr::And(v) => Expr::And(v.iter().map(erase_expr).collect()),
        Expr::Or(v) => Expr::Or(v.iter().map(erase_expr).collect()),
        Expr::Not(e) => Expr::Not(Box::new(erase_expr(e))),
        Expr::Match(m) => Expr::Match(Match {
            field: m.field.as_ref().map(erase_ident),
            predicate: erase_pred(&m.predicate),
            span: no_span(),
        }),
    }
}

fn erase_agg(a: &Aggregation) -> Aggregation {
    Aggregation {
        func: a.func,
        field: a.field.as_ref().map(erase_ident),
        alias: a.alias.as_ref().map(erase_ident),
        span: no_span(),
    }
}

fn erase_pipe(p: &Pipe) -> Pipe {
    let idents = |v: &[Ident]| v.iter().map(erase_ident).collect::<Vec<_>>();
    match p {
        Pipe::Stats { aggs, by, .. } => Pipe::Stats {
            aggs: aggs.iter().map(erase_agg).collect(),
            by: idents(by),
            span: no_span(),
        },
        Pipe::Timechart {
            span_ns, aggs, by, ..
        } => Pipe::Timechart {
            span_ns: *span_ns,
            aggs: aggs.iter().map(erase_agg).collect(),
            by: idents(by),
            span: no_span(),
        },
        Pipe::Sort { keys, .. } => Pipe::Sort {
            keys: keys.iter().map(|(k, o)| (erase_ident(k), *o)).collect(),
            span: no_span(),
        },
        Pipe::Limit { n, .. } => Pipe::Limit {
            n: *n,
            span: no_span(),
        },
        Pipe::Fields { fields, .. } => Pipe::Fields {
            fields: idents(fields),
            span: no_span(),
        },
        Pipe::Top { n, field, .. } => Pipe::Top {
            n: *n,
            field: erase_ident(field),
            span: no_span(),
        },
    }
}

/// The query without its spans, for comparing trees.
fn erase(q: &Query) -> Query {
    Query {
        filter: erase_expr(&q.filter),
        pipes: q.pipes.iter().map(erase_pipe).collect(),
    }
}

#[track_caller]
fn parsed(text: &str) -> Query {
    match parse(text) {
        Ok(q) => erase(&q),
        Err(e) => panic!("{text:?} does not parse: {e}"),
    }
}

/// The filter of a query without pipes, spans erased.
#[track_caller]
fn filter(text: &str) -> Expr {
    let q = parsed(text);
    assert!(q.pipes.is_empty(), "{text:?} has pipes");
    q.filter
}

/// The pipes of a query, spans erased.
#[track_caller]
fn pipes(text: &str) -> Vec<Pipe> {
    parsed(text).pipes
}

fn lit(text: &str) -> Literal {
    Literal {
        text: text.to_string(),
        span: no_span(),
    }
}

fn id(name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: no_span(),
    }
}

fn m(field: Option<&str>, predicate: Predicate) -> Expr {
    Expr::Match(Match {
        field: field.map(id),
        predicate,
        span: no_span(),
    })
}

/// A bare word.
fn w(text: &str) -> Expr {
    m(None, Predicate::Term(lit(text)))
}

/// A bare phrase.
fn ph(text: &str) -> Expr {
    m(None, Predicate::Phrase(lit(text)))
}

/// `field:term`
fn ft(field: &str, text: &str) -> Expr {
    m(Some(field), Predicate::Term(lit(text)))
}

fn fm(field: &str, predicate: Predicate) -> Expr {
    m(Some(field), predicate)
}

fn and(v: Vec<Expr>) -> Expr {
    Expr::And(v)
}

fn or(v: Vec<Expr>) -> Expr {
    Expr::Or(v)
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn cmp(op: CompareOp, text: &str) -> Predicate {
    Predicate::Compare(op, lit(text))
}

fn incl(text: &str) -> RangeBound {
    RangeBound::Included(lit(text))
}

fn excl(text: &str) -> RangeBound {
    RangeBound::Excluded(lit(text))
}

fn range(lower: RangeBound, upper: RangeBound) -> Predicate {
    Predicate::Range { lower, upper }
}

fn agg(func: AggFunc, field: Option<&str>, alias: Option<&str>) -> Aggregation {
    Aggregation {
        func,
        field: field.map(id),
        alias: alias.map(id),
        span: no_span(),
    }
}

fn ids(names: &[&str]) -> Vec<Ident> {
    names.iter().map(|n| id(n)).collect()
}

// ---------------------------------------------------------------------------------------------
// Filter: terms, phrases, escapes

#[test]
fn empty_and_star_match_everything() {
    for text in ["", "   ", "\t\n", "*", " * "] {
        assert_eq!(filter(text), Expr::All, "{text:?}");
    }
}

#[test]
fn bare_words_search_the_message() {
    assert_eq!(filter("timeout"), w("timeout"));
    assert_eq!(filter("überweisung"), w("überweisung"));
    assert_eq!(filter("日本語"), w("日本語"));
    assert_eq!(filter("u-123"), w("u-123"));
    assert_eq!(filter("a*b"), w("a*b"));
    assert_eq!(filter("12:30"), w("12:30"));
    assert_eq!(filter("http.status_code"), w("http.status_code"));
}

#[test]
fn bare_word_ending_with_star_is_a_message_prefix() {
    assert_eq!(filter("time*"), m(None, Predicate::Prefix(lit("time"))));
}

#[test]
fn phrases() {
    assert_eq!(filter(r#""connection refused""#), ph("connection refused"));
    assert_eq!(filter(r#""a \"b\" c\\d""#), ph(r#"a "b" c\d"#));
    // Other backslashes are kept.
    assert_eq!(filter(r#""C:\temp\n""#), ph(r"C:\temp\n"));
    assert_eq!(filter(r#""""#), ph(""));
    // A quoted keyword is a phrase, not an operator.
    assert_eq!(filter(r#""and""#), ph("and"));
    assert_eq!(filter(r#"a "OR" b"#), and(vec![w("a"), ph("OR"), w("b")]));
    // Special characters inside quotes are plain text.
    assert_eq!(filter(r#""(a | b) [c]: *""#), ph("(a | b) [c]: *"));
}

#[test]
fn escapes_in_words() {
    assert_eq!(filter(r"foo\ bar"), w("foo bar"));
    assert_eq!(filter(r"a\:b"), w("a:b"));
    assert_eq!(filter(r#"\""#), w("\""));
    assert_eq!(filter(r"\-debug"), w("-debug"));
    assert_eq!(filter(r"\AND"), w("AND"));
    assert_eq!(filter(r"\*"), w("*"));
    assert_eq!(filter(r"foo\*"), w("foo*"));
    assert_eq!(filter(r"\(x\)"), w("(x)"));
    assert_eq!(filter(r"a\\b"), w(r"a\b"));
    // A backslash at the very end stands for itself.
    assert_eq!(filter(r"a\"), w(r"a\"));
    assert_eq!(filter(r"level\:error"), w("level:error"));
}

// ---------------------------------------------------------------------------------------------
// Field matches

#[test]
fn field_terms_with_all_kinds_of_names() {
    for field in [
        "level",
        "http.status_code",
        "attributes.user.id",
        "_time",
        "k8s.pod-name",
        "@timestamp",
        "resource.service.name",
        "A1",
    ] {
        assert_eq!(filter(&format!("{field}:x")), ft(field, "x"), "{field}");
    }
}

#[test]
fn field_values_may_contain_colons_and_slashes() {
    assert_eq!(filter("url:http://x/y"), ft("url", "http://x/y"));
    assert_eq!(
        filter("ts:2026-11-01T00:00:00Z"),
        ft("ts", "2026-11-01T00:00:00Z")
    );
    assert_eq!(filter("a:b:c"), ft("a", "b:c"));
    assert_eq!(filter("status:-5"), ft("status", "-5"));
    assert_eq!(filter("service:AND"), ft("service", "AND"));
    assert_eq!(filter(r"msg:a\ b"), ft("msg", "a b"));
    assert_eq!(filter(r"path:\/var"), ft("path", "/var"));
}

#[test]
fn field_phrase_prefix_exists() {
    assert_eq!(
        filter(r#"message:"a phrase""#),
        fm("message", Predicate::Phrase(lit("a phrase")))
    );
    assert_eq!(
        filter("service:api-*"),
        fm("service", Predicate::Prefix(lit("api-")))
    );
    assert_eq!(
        filter(r"service:a\*"),
        ft("service", "a*"),
        "an escaped star is no prefix"
    );
    assert_eq!(filter("trace_id:*"), fm("trace_id", Predicate::Exists));
    assert_eq!(filter(r"trace_id:\*"), ft("trace_id", "*"));
}

#[test]
fn regexes() {
    assert_eq!(
        filter("service:/api-.*/"),
        fm("service", Predicate::Regex(lit("api-.*")))
    );
    // `\/` is a slash; other escapes are kept for the regex engine.
    assert_eq!(
        filter(r"path:/\/var\/log\/.*\.log/"),
        fm("path", Predicate::Regex(lit(r"/var/log/.*\.log")))
    );
    assert_eq!(filter(r"id:/\d+/"), fm("id", Predicate::Regex(lit(r"\d+"))));
    // Specials are plain inside a regex.
    assert_eq!(
        filter("service:/(api|web) x/"),
        fm("service", Predicate::Regex(lit("(api|web) x")))
    );
    assert_eq!(filter("f://"), fm("f", Predicate::Regex(lit(""))));
}

#[test]
fn comparisons() {
    use CompareOp::*;
    assert_eq!(filter("status:>500"), fm("status", cmp(Gt, "500")));
    assert_eq!(filter("duration:>=1.5"), fm("duration", cmp(Ge, "1.5")));
    assert_eq!(filter("n:<10"), fm("n", cmp(Lt, "10")));
    assert_eq!(filter("_time:<=now-15m"), fm("_time", cmp(Le, "now-15m")));
    assert_eq!(filter("level:>=warn"), fm("level", cmp(Ge, "warn")));
    assert_eq!(filter("t:>-5"), fm("t", cmp(Gt, "-5")));
    assert_eq!(filter(r#"name:>"a b""#), fm("name", cmp(Gt, "a b")));
    assert_eq!(
        filter("_time:>2026-11-01T00:00:00Z"),
        fm("_time", cmp(Gt, "2026-11-01T00:00:00Z"))
    );
}

#[test]
fn ranges() {
    assert_eq!(
        filter("status:[400 TO 499]"),
        fm("status", range(incl("400"), incl("499")))
    );
    assert_eq!(
        filter("status:{400 TO 499}"),
        fm("status", range(excl("400"), excl("499")))
    );
    assert_eq!(
        filter("status:[400 TO 499}"),
        fm("status", range(incl("400"), excl("499")))
    );
    assert_eq!(
        filter("status:{400 TO 499]"),
        fm("status", range(excl("400"), incl("499")))
    );
    assert_eq!(
        filter("n:[* TO 5]"),
        fm("n", range(RangeBound::Unbounded, incl("5")))
    );
    assert_eq!(
        filter("n:{5 to *}"),
        fm("n", range(excl("5"), RangeBound::Unbounded)),
        "TO is case-insensitive"
    );
    assert_eq!(
        filter("_time:[2026-11-01T00:00:00Z TO now]"),
        fm("_time", range(incl("2026-11-01T00:00:00Z"), incl("now")))
    );
    assert_eq!(
        filter(r#"name:["a b" TO "*"]"#),
        fm("name", range(incl("a b"), incl("*"))),
        "a quoted * is a value"
    );
    assert_eq!(
        filter("d:[-5 To -1.5]"),
        fm("d", range(incl("-5"), incl("-1.5")))
    );
    assert_eq!(
        filter("n:[1 TO 2] x"),
        and(vec![fm("n", range(incl("1"), incl("2"))), w("x")])
    );
}

#[test]
fn grouped_values_expand_to_matches_of_the_field() {
    assert_eq!(
        filter("service:(api OR web)"),
        or(vec![ft("service", "api"), ft("service", "web")])
    );
    assert_eq!(
        filter("service:(api web)"),
        and(vec![ft("service", "api"), ft("service", "web")])
    );
    assert_eq!(
        filter("service:(api AND NOT web)"),
        and(vec![ft("service", "api"), not(ft("service", "web"))])
    );
    assert_eq!(filter("service:(-web)"), not(ft("service", "web")));
    assert_eq!(filter("service:(api)"), ft("service", "api"));
    assert_eq!(
        filter(r#"service:(a OR (b c) OR "d e" OR f* OR /g.*/)"#),
        or(vec![
            ft("service", "a"),
            and(vec![ft("service", "b"), ft("service", "c")]),
            fm("service", Predicate::Phrase(lit("d e"))),
            fm("service", Predicate::Prefix(lit("f"))),
            fm("service", Predicate::Regex(lit("g.*"))),
        ])
    );
    assert_eq!(
        filter("status:([200 TO 299] OR >=500 OR *)"),
        or(vec![
            fm("status", range(incl("200"), incl("299"))),
            fm("status", cmp(CompareOp::Ge, "500")),
            fm("status", Predicate::Exists),
        ])
    );
    // Values inside a group are never field names.
    assert_eq!(
        filter("ts:(2026-01-01T00:00:00Z OR a:b)"),
        or(vec![ft("ts", "2026-01-01T00:00:00Z"), ft("ts", "a:b")])
    );
    // A group flattens into the expression around it.
    assert_eq!(
        filter("x OR service:(api OR web)"),
        or(vec![w("x"), ft("service", "api"), ft("service", "web")])
    );
    assert_eq!(
        filter("-service:(api OR web) x"),
        and(vec![
            not(or(vec![ft("service", "api"), ft("service", "web")])),
            w("x")
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// Boolean structure

#[test]
fn boolean_operators_and_case() {
    assert_eq!(filter("a AND b"), and(vec![w("a"), w("b")]));
    assert_eq!(filter("a and b"), and(vec![w("a"), w("b")]));
    assert_eq!(filter("a b"), and(vec![w("a"), w("b")]));
    assert_eq!(filter("a OR b"), or(vec![w("a"), w("b")]));
    assert_eq!(filter("a Or b"), or(vec![w("a"), w("b")]));
    assert_eq!(filter("NOT a"), not(w("a")));
    assert_eq!(filter("not a"), not(w("a")));
    assert_eq!(filter("-a"), not(w("a")));
    assert_eq!(
        filter("ANDROID ORACLE NOTE"),
        and(vec![w("ANDROID"), w("ORACLE"), w("NOTE")])
    );
}

#[test]
fn precedence_not_then_and_then_or() {
    assert_eq!(
        filter("a OR b c"),
        or(vec![w("a"), and(vec![w("b"), w("c")])])
    );
    assert_eq!(
        filter("a b OR c"),
        or(vec![and(vec![w("a"), w("b")]), w("c")])
    );
    assert_eq!(
        filter("a AND b OR c AND d"),
        or(vec![and(vec![w("a"), w("b")]), and(vec![w("c"), w("d")])])
    );
    assert_eq!(filter("NOT a b"), and(vec![not(w("a")), w("b")]));
    assert_eq!(filter("NOT a OR b"), or(vec![not(w("a")), w("b")]));
    assert_eq!(
        filter("(a OR b) c"),
        and(vec![or(vec![w("a"), w("b")]), w("c")])
    );
}

#[test]
fn negation_forms() {
    assert_eq!(filter("-debug"), not(w("debug")));
    assert_eq!(
        filter(r#"-"connection refused""#),
        not(ph("connection refused"))
    );
    assert_eq!(filter("-level:debug"), not(ft("level", "debug")));
    assert_eq!(filter("-(a OR b)"), not(or(vec![w("a"), w("b")])));
    assert_eq!(filter("NOT (a b)"), not(and(vec![w("a"), w("b")])));
    assert_eq!(filter("--a"), not(not(w("a"))));
    assert_eq!(filter("NOT -a"), not(not(w("a"))));
    assert_eq!(
        filter("error -debug"),
        and(vec![w("error"), not(w("debug"))])
    );
    assert_eq!(filter("a AND NOT b"), and(vec![w("a"), not(w("b"))]));
    assert_eq!(filter("-*"), not(Expr::All));
    // Inside a word, `-` is part of it.
    assert_eq!(filter("u-123 a-"), and(vec![w("u-123"), w("a-")]));
}

#[test]
fn same_operators_flatten_and_single_operands_unwrap() {
    assert_eq!(filter("a AND (b AND c)"), and(vec![w("a"), w("b"), w("c")]));
    assert_eq!(filter("(a b) c"), and(vec![w("a"), w("b"), w("c")]));
    assert_eq!(
        filter("a OR (b OR c) OR d"),
        or(vec![w("a"), w("b"), w("c"), w("d")])
    );
    assert_eq!(filter("(a)"), w("a"));
    assert_eq!(filter("((((a))))"), w("a"));
    assert_eq!(
        filter("a OR (b AND c)"),
        or(vec![w("a"), and(vec![w("b"), w("c")])])
    );
    assert_eq!(filter("* -debug"), and(vec![Expr::All, not(w("debug"))]));
}

#[test]
fn a_realistic_filter() {
    assert_eq!(
        filter(r#"service:api AND level:>=warn "timed out" -http.status_code:404"#),
        and(vec![
            ft("service", "api"),
            fm("level", cmp(CompareOp::Ge, "warn")),
            ph("timed out"),
            not(ft("http.status_code", "404")),
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// Spans

#[test]
fn spans_of_a_field_match() {
    let q = parse("level:>=warn").unwrap();
    let Expr::Match(mt) = q.filter else {
        panic!("not a match")
    };
    assert_eq!(mt.span, Span::new(0, 12));
    assert_eq!(mt.field.unwrap().span, Span::new(0, 5));
    let Predicate::Compare(CompareOp::Ge, l) = mt.predicate else {
        panic!("not a comparison")
    };
    assert_eq!(l.span, Span::new(8, 12));
}

#[test]
fn spans_of_words_phrases_and_prefixes() {
    let q = parse(r#"  timeout "a b" svc:api*"#).unwrap();
    let Expr::And(v) = q.filter else {
        panic!("not an AND")
    };
    let spans: Vec<Span> = v
        .iter()
        .map(|e| match e {
            Expr::Match(m) => m.span,
            _ => panic!("not a match"),
        })
        .collect();
    assert_eq!(
        spans,
        vec![Span::new(2, 9), Span::new(10, 15), Span::new(16, 24)]
    );
    let Expr::Match(phrase) = &v[1] else { panic!() };
    assert_eq!(
        phrase.predicate,
        Predicate::Phrase(Literal {
            text: "a b".into(),
            span: Span::new(10, 15)
        }),
        "a phrase literal's span includes the quotes"
    );
    let Expr::Match(prefix) = &v[2] else { panic!() };
    assert_eq!(
        prefix.predicate,
        Predicate::Prefix(Literal {
            text: "api".into(),
            span: Span::new(20, 23)
        }),
        "a prefix literal's span excludes the star"
    );
}

#[test]
fn spans_are_bytes_with_multibyte_text() {
    let q = parse("é:ü x:ü").unwrap_or_else(|e| panic!("{e}"));
    // `é` is no identifier start: the first is a word.
    let Expr::And(v) = q.filter else { panic!() };
    let Expr::Match(second) = &v[1] else { panic!() };
    assert_eq!(second.span, Span::new(6, 10));
    assert_eq!(second.field.as_ref().unwrap().span, Span::new(6, 7));
}

#[test]
fn spans_of_ranges_groups_and_pipes() {
    let q = parse("s:(a OR bc) n:[1 TO 2} | stats count() as c by x | limit 5").unwrap();
    let Expr::And(v) = &q.filter else { panic!() };
    let Expr::Or(group) = &v[0] else { panic!() };
    let Expr::Match(bc) = &group[1] else { panic!() };
    assert_eq!(
        bc.span,
        Span::new(8, 10),
        "a grouped value's span is its own text"
    );
    assert_eq!(bc.field.as_ref().unwrap().span, Span::new(0, 1));
    let Expr::Match(r) = &v[1] else { panic!() };
    assert_eq!(r.span, Span::new(12, 22));
    let Pipe::Stats { aggs, by, span } = &q.pipes[0] else {
        panic!()
    };
    assert_eq!(*span, Span::new(25, 48));
    assert_eq!(aggs[0].span, Span::new(31, 43));
    assert_eq!(aggs[0].alias.as_ref().unwrap().span, Span::new(42, 43));
    assert_eq!(by[0].span, Span::new(47, 48));
    let Pipe::Limit { span, .. } = &q.pipes[1] else {
        panic!()
    };
    assert_eq!(*span, Span::new(51, 58));
}

// ---------------------------------------------------------------------------------------------
// Pipes

#[test]
fn pipes_without_a_filter() {
    let q = parsed("| stats count()");
    assert_eq!(q.filter, Expr::All);
    assert_eq!(q.pipes.len(), 1);
    assert_eq!(parsed("* | limit 1").filter, Expr::All);
}

#[test]
fn stats_aggregations_aliases_and_by() {
    use AggFunc::*;
    assert_eq!(
        pipes("| stats count()"),
        vec![Pipe::Stats {
            aggs: vec![agg(Count, None, None)],
            by: vec![],
            span: no_span()
        }]
    );
    let expected = vec![Pipe::Stats {
        aggs: vec![
            agg(Count, None, None),
            agg(Count, Some("user.id"), Some("n")),
            agg(Sum, Some("bytes"), None),
            agg(Avg, Some("duration_ms"), Some("avg_ms")),
            agg(Min, Some("a"), None),
            agg(Max, Some("b"), None),
            agg(CountDistinct, Some("trace_id"), None),
        ],
        by: ids(&["service", "level"]),
        span: no_span(),
    }];
    assert_eq!(
        pipes(
            "x | stats count(), count(user.id) as n, sum(bytes), avg(duration_ms) as avg_ms, \
             min(a), max(b), count_distinct(trace_id) by (service, level)"
        ),
        expected
    );
    assert_eq!(
        pipes(
            "x | STATS COUNT(), Count(user.id) AS n, SUM(bytes), avg( duration_ms ) as avg_ms, \
             min(a),max(b),count_distinct(trace_id) BY service, level"
        ),
        expected,
        "keywords and functions are case-insensitive; spaces are free"
    );
    assert_eq!(
        pipes("| stats count() by service"),
        vec![Pipe::Stats {
            aggs: vec![agg(Count, None, None)],
            by: ids(&["service"]),
            span: no_span()
        }]
    );
}

#[test]
fn percentiles() {
    let p = |text: &str| match &pipes(text)[0] {
        Pipe::Stats { aggs, .. } => aggs[0].func,
        other => panic!("{other:?}"),
    };
    assert_eq!(p("| stats p50(d)"), AggFunc::Percentile(50.0));
    assert_eq!(p("| stats p95(d)"), AggFunc::Percentile(95.0));
    assert_eq!(p("| stats P99(d)"), AggFunc::Percentile(99.0));
    assert_eq!(p("| stats p99.9(d)"), AggFunc::Percentile(99.9));
    assert_eq!(p("| stats p100(d)"), AggFunc::Percentile(100.0));
    assert_eq!(p("| stats p0.1(d)"), AggFunc::Percentile(0.1));
    let q = parse("| stats p99(d), p99.9(d) as slow").unwrap();
    let Pipe::Stats { aggs, .. } = &q.pipes[0] else {
        panic!()
    };
    assert_eq!(aggs[0].column_name(), "p99(d)");
    assert_eq!(aggs[1].column_name(), "slow");
}

#[test]
fn timechart() {
    use AggFunc::*;
    assert_eq!(
        pipes("| timechart count()"),
        vec![Pipe::Timechart {
            span_ns: None,
            aggs: vec![agg(Count, None, None)],
            by: vec![],
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| timechart span=5m count(), p99(duration_ms) as p by level, service"),
        vec![Pipe::Timechart {
            span_ns: Some(300_000_000_000),
            aggs: vec![
                agg(Count, None, None),
                agg(Percentile(99.0), Some("duration_ms"), Some("p"))
            ],
            by: ids(&["level", "service"]),
            span: no_span()
        }]
    );
    let span_of = |text: &str| match &pipes(text)[0] {
        Pipe::Timechart { span_ns, .. } => *span_ns,
        other => panic!("{other:?}"),
    };
    assert_eq!(span_of("| timechart span=250ms count()"), Some(250_000_000));
    assert_eq!(
        span_of("| timechart span=30s count()"),
        Some(30_000_000_000)
    );
    assert_eq!(
        span_of("| timechart span=1h count()"),
        Some(3_600_000_000_000)
    );
    assert_eq!(
        span_of("| timechart span=1d count()"),
        Some(86_400_000_000_000)
    );
    assert_eq!(
        span_of("| TIMECHART SPAN = 2h count()"),
        Some(7_200_000_000_000)
    );
    assert_eq!(
        span_of("| timechart span=106751d count()"),
        Some(106_751 * 86_400_000_000_000),
        "the longest span that fits"
    );
}

#[test]
fn sort_limit_fields_top() {
    assert_eq!(
        pipes("| sort by _time"),
        vec![Pipe::Sort {
            keys: vec![(id("_time"), SortOrder::Asc)],
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| sort by count desc, avg(duration_ms) ASC, p99( d ), count() Desc, x"),
        vec![Pipe::Sort {
            keys: vec![
                (id("count"), SortOrder::Desc),
                (id("avg(duration_ms)"), SortOrder::Asc),
                (id("p99(d)"), SortOrder::Asc),
                (id("count()"), SortOrder::Desc),
                (id("x"), SortOrder::Asc),
            ],
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| limit 10"),
        vec![Pipe::Limit {
            n: 10,
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| limit 0"),
        vec![Pipe::Limit {
            n: 0,
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| limit 18446744073709551615"),
        vec![Pipe::Limit {
            n: u64::MAX,
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| fields _time, message,attributes.user.id"),
        vec![Pipe::Fields {
            fields: ids(&["_time", "message", "attributes.user.id"]),
            span: no_span()
        }]
    );
    assert_eq!(
        pipes("| top 5 service"),
        vec![Pipe::Top {
            n: 5,
            field: id("service"),
            span: no_span()
        }]
    );
}

#[test]
fn pipes_chain_in_order() {
    let q = parsed(
        "level:error | stats count() by service | sort by count desc | limit 3 | fields service",
    );
    assert_eq!(q.filter, ft("level", "error"));
    let names: Vec<&str> = q
        .pipes
        .iter()
        .map(|p| match p {
            Pipe::Stats { .. } => "stats",
            Pipe::Timechart { .. } => "timechart",
            Pipe::Sort { .. } => "sort",
            Pipe::Limit { .. } => "limit",
            Pipe::Fields { .. } => "fields",
            Pipe::Top { .. } => "top",
        })
        .collect();
    assert_eq!(names, ["stats", "sort", "limit", "fields"]);
    // A `|` inside quotes or a regex is no pipe.
    assert_eq!(
        filter(r#""a | b" f:/a|b/"#),
        and(vec![ph("a | b"), fm("f", Predicate::Regex(lit("a|b")))])
    );
}

// ---------------------------------------------------------------------------------------------
// Display

#[test]
fn display_prints_parseable_text() {
    let cases = [
        ("", "*"),
        ("a OR b c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("-(a b) --c", "-(a AND b) AND NOT -c"),
        (r#"f:"x y" g:>=5 h:[* TO 3} i:/a\/b/ j:p* k:*"#, r#"f:"x y" AND g:>=5 AND h:[* TO 3} AND i:/a\/b/ AND j:p* AND k:*"#),
        (r"\AND a\:b \-x", r"\AND AND a\:b AND \-x"),
        ("s:(a OR b)", "s:a OR s:b"),
        (
            "| stats count(), p99.9(d) as slow by (a, b) | timechart span=90s avg(x) by a | sort by count desc, x | limit 5 | fields a, b | top 3 a",
            "* | stats count(), p99.9(d) as slow by a, b | timechart span=90s avg(x) by a | sort by count desc, x | limit 5 | fields a, b | top 3 a",
        ),
        ("| timechart span=120m count()", "* | timechart span=2h count()"),
    ];
    for (text, printed) in cases {
        let q = parse(text).unwrap();
        assert_eq!(q.to_string(), printed, "{text:?}");
        assert_eq!(q.to_query_string(), printed);
        assert_eq!(parsed(printed), erase(&q), "{printed:?} reparses");
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[track_caller]
fn error(text: &str) -> ParseError {
    match parse(text) {
        Ok(q) => panic!("{text:?} parsed: {q:?}"),
        Err(e) => e,
    }
}

#[test]
fn typical_mistakes_have_exact_errors() {
    // (query, byte position, column, message, found)
    let cases: &[(&str, usize, usize, &str, Option<&str>)] = &[
        (
            r#"error "connection refused"#,
            6,
            7,
            "unclosed quote: expected a closing `\"`, found end of query",
            None,
        ),
        (
            "(a OR b",
            7,
            8,
            "expected `)` to close the `(` at column 1, found end of query",
            None,
        ),
        (
            "status:[1 TO",
            12,
            13,
            "expected the upper bound of the range after `TO`, found end of query",
            None,
        ),
        (
            "status:[1 5]",
            10,
            11,
            "expected `TO` after `1`, found `5`",
            Some("5"),
        ),
        (
            "status:[1 TO 5",
            14,
            15,
            "expected a closing `]` or `}` after `5`, found end of query",
            None,
        ),
        (
            "service:",
            8,
            9,
            "expected a value after `service:`, found end of query",
            None,
        ),
        (
            "service: api",
            9,
            10,
            "expected a value right after `service:`, found a space before `api` (write `service:api`)",
            Some("api"),
        ),
        (
            "service:(",
            9,
            10,
            "expected a value after `(`, found end of query",
            None,
        ),
        (
            "status:>",
            8,
            9,
            "expected a value after `>`, found end of query",
            None,
        ),
        (
            "x | foo",
            4,
            5,
            "unknown command `foo` after `|`: use stats, timechart, sort, limit, fields or top",
            Some("foo"),
        ),
        (
            "| stats median(x)",
            8,
            9,
            "unknown aggregation `median`: use count(), count(field), count_distinct(field), \
             sum(field), avg(field), min(field), max(field) or a percentile like p50(field), \
             p99(field) or p99.9(field)",
            Some("median"),
        ),
        (
            "| timechart span=0m count()",
            17,
            18,
            "the span must be longer than zero, found `0m`",
            Some("0m"),
        ),
        (
            "| timechart span=106752d count()",
            17,
            18,
            "the span `106752d` is too long",
            Some("106752d"),
        ),
        (
            "| limit -1",
            8,
            9,
            "expected a whole number after `limit`, found `-1`",
            Some("-1"),
        ),
        (
            "| stats",
            7,
            8,
            "expected an aggregation like count() or avg(field) after `stats`, found end of query",
            None,
        ),
        (
            "| stats by service",
            8,
            9,
            "unknown aggregation `by`: use count(), count(field), count_distinct(field), \
             sum(field), avg(field), min(field), max(field) or a percentile like p50(field), \
             p99(field) or p99.9(field)",
            Some("by"),
        ),
        (
            "error |",
            7,
            8,
            "expected a command (stats, timechart, sort, limit, fields or top) after `|`, \
             found end of query",
            None,
        ),
        (
            "a AND",
            5,
            6,
            "expected a search term after `AND`, found end of query",
            None,
        ),
        (
            "OR b",
            0,
            1,
            "expected a search term, found `OR` (to search for the word, quote it: \"OR\")",
            Some("OR"),
        ),
        ("a )", 2, 3, "unexpected `)`: it closes no `(`", Some(")")),
        (
            "a AND NOT",
            9,
            10,
            "expected a search term after `NOT`, found end of query",
            None,
        ),
        (
            "- a",
            2,
            3,
            "expected a search term right after `-`, found a space before `a`",
            Some("a"),
        ),
        (
            "[1 TO 2]",
            0,
            1,
            "unexpected `[`: a range needs a field, like `status:[400 TO 499]`",
            Some("["),
        ),
        (
            "path:/var",
            5,
            6,
            "unclosed regular expression: expected a closing `/`, found end of query",
            None,
        ),
        (
            "path:/var/log",
            10,
            11,
            "unexpected `log` right after the regular expression `/var/`: to search for a value \
             starting with `/`, quote it (\"/var/log\") or escape the slash (\\/var/log)",
            Some("log"),
        ),
        (
            "| stats avg()",
            12,
            13,
            "`avg` needs a field, like avg(duration_ms); found `)`",
            Some(")"),
        ),
        (
            "| stats p0(x)",
            8,
            9,
            "the percentile in `p0` must be more than 0 and at most 100",
            Some("p0"),
        ),
        (
            "| stats count() foo",
            16,
            17,
            "expected `,`, `by`, `|` or end of query after `)`, found `foo`",
            Some("foo"),
        ),
        (
            "| sort count",
            7,
            8,
            "expected `by` after `sort`, found `count`",
            Some("count"),
        ),
        (
            "| top service",
            6,
            7,
            "expected a whole number after `top`, found `service`",
            Some("service"),
        ),
        (
            "| fields a,",
            11,
            12,
            "expected a field name after `,`, found end of query",
            None,
        ),
        (
            "| stats count() by (a, b",
            24,
            25,
            "expected `)` to close the `(` at column 20, found end of query",
            None,
        ),
        (
            "| limit 99999999999999999999",
            8,
            9,
            "the number `99999999999999999999` is too large",
            Some("99999999999999999999"),
        ),
        (
            "()",
            1,
            2,
            "expected a search term after `(`, found `)`",
            Some(")"),
        ),
        // Columns count characters, positions bytes.
        (
            "héllo wörld )",
            14,
            13,
            "unexpected `)`: it closes no `(`",
            Some(")"),
        ),
    ];
    for &(text, position, column, message, found) in cases {
        let e = error(text);
        assert_eq!(
            (e.message.as_str(), e.position, e.column, e.found.as_deref()),
            (message, position, column, found),
            "{text:?}"
        );
        assert_eq!(e.to_string(), format!("{message} (at column {column})"));
    }
}

#[test]
fn errors_list_what_was_expected() {
    assert_eq!(error("service:").expected, ["a value"]);
    assert_eq!(error(r#""abc"#).expected, ["a closing `\"`"]);
    assert_eq!(error("(a").expected, ["`)`"]);
    assert_eq!(
        error("| stats count() foo").expected,
        ["`,`", "`by`", "`|`", "end of query"]
    );
    assert_eq!(
        error("| foo").expected,
        ["stats", "timechart", "sort", "limit", "fields", "top"]
    );
    assert_eq!(error("a AND").expected, ["a search term"]);
}

#[test]
fn the_first_error_wins_over_a_later_unclosed_quote() {
    let e = error(r#"a ) "unclosed"#);
    assert_eq!(e.message, "unexpected `)`: it closes no `(`");
    let e = error(r#"(a "unclosed"#);
    assert_eq!(e.position, 3);
    assert!(e.message.starts_with("unclosed quote"), "{}", e.message);
}

#[test]
fn nesting_is_limited_to_64_levels() {
    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(filter(&nested(64)), w("a"));
    let e = error(&nested(65));
    assert_eq!(e.position, 64);
    assert_eq!(e.column, 65);
    assert_eq!(e.found.as_deref(), Some("("));
    assert_eq!(e.message, "too many nested parentheses (at most 64 levels)");
    let group = format!("f:{}a{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(filter(&group), ft("f", "a"));
    assert!(parse(&format!("f:{}a{}", "(".repeat(65), ")".repeat(65))).is_err());

    let nots = |n: usize| format!("{}a", "NOT ".repeat(n));
    let mut expected = w("a");
    for _ in 0..64 {
        expected = not(expected);
    }
    assert_eq!(filter(&nots(64)), expected);
    let e = error(&nots(65));
    assert_eq!(e.position, 64 * 4);
    assert_eq!(
        e.message,
        "the query nests too deeply: at most 64 levels of parentheses and negations"
    );
    // Parentheses and negations add up.
    let e = error(&format!(
        "{}{}a{}",
        "(".repeat(60),
        "-".repeat(5),
        ")".repeat(60)
    ));
    assert_eq!(e.position, 64);

    // Far too deep is an error, not a stack overflow.
    for huge in [
        "(".repeat(100_000),
        "-".repeat(100_000) + "a",
        "NOT ".repeat(50_000) + "a",
        format!("f:{}", "(".repeat(100_000)),
    ] {
        assert!(parse(&huge).is_err());
    }
    // Long flat expressions are fine.
    let long = vec!["a"; 20_000].join(" OR ");
    let Expr::Or(v) = parse(&long).unwrap().filter else {
        panic!()
    };
    assert_eq!(v.len(), 20_000);
}

#[test]
fn error_constructor_for_the_executor() {
    let text = "é:x level:loud";
    let e = ParseError::at(text, Span::new(11, 15), "unknown level `loud`")
        .with_expected(["trace", "debug", "info", "warn", "error", "fatal"]);
    assert_eq!(e.position, 11);
    assert_eq!(e.column, 11);
    assert_eq!(e.found.as_deref(), Some("loud"));
    assert_eq!(e.expected.len(), 6);
    assert_eq!(e.to_string(), "unknown level `loud` (at column 11)");
    // A bare offset; out-of-range and mid-character offsets are clamped.
    let e = ParseError::at(text, 1usize, "x");
    assert_eq!((e.position, e.column, e.found), (0, 1, None));
    let e = ParseError::at(text, 99usize, "x");
    assert_eq!((e.position, e.column), (text.len(), 15));
}

// ---------------------------------------------------------------------------------------------
// Property tests

/// Errors are well formed: a position inside the text on a character boundary and the
/// matching 1-based column.
fn check_error(text: &str, e: &ParseError) -> Result<(), TestCaseError> {
    prop_assert!(e.position <= text.len(), "{e:?}");
    prop_assert!(text.is_char_boundary(e.position), "{e:?}");
    prop_assert!(e.column >= 1);
    prop_assert_eq!(e.column, text[..e.position].chars().count() + 1);
    prop_assert!(!e.message.is_empty());
    Ok(())
}

/// Parses, checks any error, and checks that what parses prints back to text that parses to
/// the same tree.
fn check_total(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Err(e) => check_error(text, &e),
        Ok(q) => {
            let printed = q.to_string();
            match parse(&printed) {
                Ok(again) => {
                    prop_assert_eq!(
                        erase(&again),
                        erase(&q),
                        "{:?} printed as {:?}",
                        text,
                        printed
                    );
                    Ok(())
                }
                Err(e) => Err(TestCaseError::fail(format!(
                    "{text:?} printed as {printed:?}, which does not parse: {e}"
                ))),
            }
        }
    }
}

fn grammarish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "b",
        "x1",
        " ",
        " ",
        "  ",
        ":",
        "\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "*",
        "/",
        "-",
        "|",
        ">",
        "<",
        "=",
        ">=",
        "TO",
        "to",
        "AND",
        "OR",
        "NOT",
        "or",
        "1",
        "0",
        ".",
        ",",
        "\\",
        "é",
        "日",
        "\t",
        "f:",
        "level:",
        "_time:",
        "stats",
        "count()",
        "avg(d)",
        "p99(",
        "by",
        "as",
        "sort",
        "limit",
        "span=",
        "5m",
        "top",
        "fields",
        "timechart",
        "desc",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_parses_or_fails_cleanly(text in any::<String>()) {
        check_total(&text)?;
    }

    #[test]
    fn printable_strings_parse_or_fail_cleanly(text in "\\PC{0,40}") {
        check_total(&text)?;
    }

    #[test]
    fn grammar_like_strings_parse_or_fail_cleanly(text in grammarish()) {
        check_total(&text)?;
    }
}

// Random trees: print, parse, compare.

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,6}(\\.[a-z][a-z0-9_-]{0,4})?",
        1 => prop::sample::select(vec![
            "by", "as", "and", "or", "not", "to", "span", "asc", "desc", "count", "stats",
            "top", "limit", "_time", "@timestamp", "k8s.pod-name",
        ])
        .prop_map(String::from),
    ]
}

/// Text for values: plain words mostly, and anything that must be escaped or quoted.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9]{1,8}",
        1 => prop::sample::select(vec!["AND", "or", "Not", "TO", "*", "-", "-x", "a:b", "/x"])
            .prop_map(String::from),
        2 => "[a-z0-9 _:/*\\\\\"()\\[\\]{}|<>=,.é日-]{1,10}",
    ]
}

fn arb_lit() -> impl Strategy<Value = Literal> {
    arb_text().prop_map(|t| lit(&t))
}

fn arb_bound() -> impl Strategy<Value = RangeBound> {
    prop_oneof![
        arb_lit().prop_map(RangeBound::Included),
        arb_lit().prop_map(RangeBound::Excluded),
        Just(RangeBound::Unbounded),
    ]
}

fn arb_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(vec![
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn arb_match() -> impl Strategy<Value = Expr> {
    let field_pred = prop_oneof![
        arb_lit().prop_map(Predicate::Term),
        "[a-z \"]{0,8}".prop_map(|t| Predicate::Phrase(lit(&t))),
        arb_lit().prop_map(Predicate::Prefix),
        "[a-z0-9.*+?^$|()\\[\\]/ -]{0,10}".prop_map(|t| Predicate::Regex(lit(&t))),
        (arb_op(), prop_oneof![arb_lit(), Just(lit(""))])
            .prop_map(|(op, l)| Predicate::Compare(op, l)),
        (arb_bound(), arb_bound()).prop_map(|(lower, upper)| Predicate::Range { lower, upper }),
        Just(Predicate::Exists),
    ];
    let bare_pred = prop_oneof![
        arb_lit().prop_map(Predicate::Term),
        "[a-z \"]{0,8}".prop_map(|t| Predicate::Phrase(lit(&t))),
        arb_lit().prop_map(Predicate::Prefix),
    ];
    prop_oneof![
        (arb_name(), field_pred).prop_map(|(f, p)| m(Some(&f), p)),
        bare_pred.prop_map(|p| m(None, p)),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![10 => arb_match(), 1 => Just(Expr::All)];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// What the parser makes of nested same operators: one flat list.
fn flatten(e: Expr) -> Expr {
    match e {
        Expr::And(v) => Expr::And(
            v.into_iter()
                .map(flatten)
                .flat_map(|e| match e {
                    Expr::And(inner) => inner,
                    e => vec![e],
                })
                .collect(),
        ),
        Expr::Or(v) => Expr::Or(
            v.into_iter()
                .map(flatten)
                .flat_map(|e| match e {
                    Expr::Or(inner) => inner,
                    e => vec![e],
                })
                .collect(),
        ),
        Expr::Not(e) => Expr::Not(Box::new(flatten(*e))),
        e => e,
    }
}

fn arb_agg() -> impl Strategy<Value = Aggregation> {
    let func = prop::sample::select(vec![
        AggFunc::Count,
        AggFunc::Sum,
        AggFunc::Avg,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::CountDistinct,
        AggFunc::Percentile(50.0),
        AggFunc::Percentile(99.9),
        AggFunc::Percentile(100.0),
        AggFunc::Percentile(0.5),
        AggFunc::Percentile(12.25),
    ]);
    (
        func,
        arb_name(),
        any::<bool>(),
        prop::option::of(arb_name()),
    )
        .prop_map(|(func, field, count_all, alias)| Aggregation {
            func,
            field: (!(func == AggFunc::Count && count_all)).then(|| id(&field)),
            alias: alias.map(|a| id(&a)),
            span: no_span(),
        })
}

fn arb_pipe() -> impl Strategy<Value = Pipe> {
    let aggs = || prop::collection::vec(arb_agg(), 1..4);
    let names = |min: usize| prop::collection::vec(arb_name().prop_map(|n| id(&n)), min..4);
    let unit = prop::sample::select(vec![
        1_000_000i64,
        1_000_000_000,
        60_000_000_000,
        3_600_000_000_000,
        86_400_000_000_000,
    ]);
    let key = prop_oneof![
        arb_name(),
        (
            prop::sample::select(vec!["avg", "p99", "count", "count_distinct"]),
            arb_name()
        )
            .prop_map(|(f, x)| format!("{f}({x})")),
        Just("count()".to_string()),
    ];
    let order = prop::sample::select(vec![SortOrder::Asc, SortOrder::Desc]);
    prop_oneof![
        (aggs(), names(0)).prop_map(|(aggs, by)| Pipe::Stats {
            aggs,
            by,
            span: no_span()
        }),
        (prop::option::of((1i64..1000, unit)), aggs(), names(0)).prop_map(|(s, aggs, by)| {
            Pipe::Timechart {
                span_ns: s.map(|(n, unit)| n * unit),
                aggs,
                by,
                span: no_span(),
            }
        }),
        prop::collection::vec((key.prop_map(|k| id(&k)), order), 1..4).prop_map(|keys| {
            Pipe::Sort {
                keys,
                span: no_span(),
            }
        }),
        any::<u64>().prop_map(|n| Pipe::Limit { n, span: no_span() }),
        names(1).prop_map(|fields| Pipe::Fields {
            fields,
            span: no_span()
        }),
        (any::<u64>(), arb_name()).prop_map(|(n, f)| Pipe::Top {
            n,
            field: id(&f),
            span: no_span()
        }),
    ]
}

fn arb_query() -> impl Strategy<Value = Query> {
    (arb_expr(), prop::collection::vec(arb_pipe(), 0..4)).prop_map(|(filter, pipes)| Query {
        filter: flatten(filter),
        pipes,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn printed_trees_parse_back_to_themselves(q in arb_query()) {
        let text = q.to_query_string();
        match parse(&text) {
            Ok(parsed) => prop_assert_eq!(erase(&parsed), q, "printed as {:?}", text),
            Err(e) => return Err(TestCaseError::fail(format!("{text:?} does not parse: {e}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The user documentation's examples

/// Every line of a ```` ```query ```` block in docs/query-language.md parses, every line of a
/// ```` ```query-error ```` block fails, and the error table shows the real messages.
#[test]
fn documentation_examples_are_accurate() {
    let doc = include_str!("../../docs/query-language.md");
    let mut block: Option<&str> = None;
    let (mut good, mut bad) = (0, 0);
    for line in doc.lines() {
        match (block, line) {
            (None, l) if l.starts_with("```query") => block = Some(&l[3..]),
            (Some(_), "```") => block = None,
            (Some("query"), l) => {
                if let Err(e) = parse(l) {
                    panic!("documented query {l:?} does not parse: {e}");
                }
                good += 1;
            }
            (Some("query-error"), l) => {
                assert!(parse(l).is_err(), "documented mistake {l:?} parses");
                bad += 1;
            }
            _ => {}
        }
    }
    assert!(good >= 50 && bad >= 10, "{good} examples, {bad} mistakes");

    let errors = doc.split("## Errors").nth(1).expect("an Errors section");
    let mut rows = 0;
    for row in errors.lines().filter(|l| l.starts_with("| `")) {
        let row = row.replace("\\|", "\u{0}");
        let cells: Vec<String> = row
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect();
        let query = cells[0].trim_matches('`');
        assert_eq!(error(query).to_string(), cells[1], "{query:?}");
        rows += 1;
    }
    assert!(rows >= 10);
}
