//! Template text → nodes. Hand-written because the accepted language is deliberately tiny
//! (no control flow); a full Go-template engine would accept constructs we cannot render.

use super::{Command, Func, Node, Operand};

/// Longest template text. The language is flat (no nesting: parsing is one linear pass), so
/// size and action count are the only bounds it needs.
const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Most `{{ … }}` actions in one template.
const MAX_ACTIONS: usize = 1_000;

pub(super) fn parse(text: &str) -> Result<Vec<Node>, String> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "template too long: {} bytes (at most {MAX_TEMPLATE_BYTES})",
            text.len()
        ));
    }
    let mut nodes = Vec::new();
    let mut actions = 0usize;
    let mut rest = text;
    let mut offset = 0usize;
    let mut trim_next_text = false;
    while let Some(open) = rest.find("{{") {
        let mut literal = &rest[..open];
        if trim_next_text {
            literal = literal.trim_start();
        }
        let after_open = &rest[open + 2..];
        let trim_left = after_open.starts_with('-')
            && after_open[1..].starts_with(|c: char| c.is_ascii_whitespace());
        if trim_left {
            literal = literal.trim_end();
        }
        if !literal.is_empty() {
            nodes.push(Node::Text(literal.to_string()));
        }
        let action_start = offset + open;
        let close = after_open
            .find("}}")
            .ok_or_else(|| format!("unclosed action at offset {action_start}"))?;
        let mut inner = &after_open[..close];
        if trim_left {
            inner = &inner[1..];
        }
        trim_next_text = inner.ends_with('-')
            && inner[..inner.len() - 1].ends_with(|c: char| c.is_ascii_whitespace());
        if trim_next_text {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            let cmds = parse_action(inner)
                .map_err(|e| format!("{e} (in the action at offset {action_start})"))?;
            nodes.push(Node::Action(cmds));
            actions += 1;
            if actions > MAX_ACTIONS {
                return Err(format!(
                    "template too complex: more than {MAX_ACTIONS} actions (at offset {action_start})"
                ));
            }
        }
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    let mut tail = rest;
    if trim_next_text {
        tail = tail.trim_start();
    }
    if !tail.is_empty() {
        nodes.push(Node::Text(tail.to_string()));
    }
    Ok(nodes)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Pipe,
    Word(String),
    Str(String),
    Num(f64),
}

fn tokens(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            out.push(Token::Pipe);
        } else if c == '"' {
            chars.next();
            let mut lit = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => lit.push('\n'),
                        Some((_, 't')) => lit.push('\t'),
                        Some((_, other)) => lit.push(other),
                        None => return Err("unterminated string".into()),
                    },
                    Some((_, other)) => lit.push(other),
                }
            }
            out.push(Token::Str(lit));
        } else if c == '`' {
            chars.next();
            let mut lit = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated raw string".into()),
                    Some((_, '`')) => break,
                    Some((_, other)) => lit.push(other),
                }
            }
            out.push(Token::Str(lit));
        } else if c == '(' || c == ')' {
            return Err("parenthesised pipelines are not supported".into());
        } else {
            let mut end = s.len();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_whitespace() || d == '|' || d == '(' || d == ')' || d == '"' {
                    end = j;
                    break;
                }
                chars.next();
            }
            let word = &s[i..end];
            let is_number = word.starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+');
            if is_number {
                let v = word
                    .parse::<f64>()
                    .map_err(|_| format!("bad number {word:?}"))?;
                out.push(Token::Num(v));
            } else {
                out.push(Token::Word(word.to_string()));
            }
        }
    }
    Ok(out)
}

const CONTROL_WORDS: [&str; 9] = [
    "if", "else", "end", "range", "with", "define", "template", "block", "break",
];

fn parse_operand(tok: &Token) -> Result<Operand, String> {
    match tok {
        Token::Str(s) => Ok(Operand::Str(s.clone())),
        Token::Num(v) => Ok(Operand::Num(*v)),
        Token::Pipe => Err("unexpected |".into()),
        Token::Word(w) => {
            if let Some(field) = w
                .strip_prefix("$labels.")
                .or_else(|| w.strip_prefix(".Labels."))
            {
                if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(format!("bad label reference {w:?}"));
                }
                return Ok(Operand::Labels(Some(field.to_string())));
            }
            let root = w
                .split('.')
                .take(if w.starts_with('.') { 2 } else { 1 })
                .collect::<Vec<_>>()
                .join(".");
            match w.as_str() {
                "$labels" | ".Labels" => Ok(Operand::Labels(None)),
                _ if matches!(
                    root.as_str(),
                    "$externalLabels" | "$externalURL" | ".ExternalLabels" | ".ExternalURL"
                ) =>
                {
                    Err(format!("{root} is not supported by Pharos rules"))
                }
                "$value" | ".Value" => Ok(Operand::Value),
                _ if w.starts_with('$') || w.starts_with('.') => Err(format!(
                    "unknown variable {w:?} (use $labels.NAME or $value)"
                )),
                _ => Err(format!("unknown function or operand {w:?}")),
            }
        }
    }
}

fn parse_command(toks: &[Token]) -> Result<Command, String> {
    let (head, args) = toks.split_first().ok_or("empty command")?;
    if let Token::Word(w) = head {
        if CONTROL_WORDS.contains(&w.as_str()) {
            return Err(format!(
                "{w:?} is not supported (no control structures in rule templates)"
            ));
        }
        if let Some(func) = Func::by_name(w) {
            let ops = args
                .iter()
                .map(parse_operand)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Command::Call(func, ops));
        }
    }
    let op = parse_operand(head)?;
    if !args.is_empty() {
        return Err("an operand cannot take arguments".into());
    }
    Ok(Command::Operand(op))
}

fn parse_action(inner: &str) -> Result<Vec<Command>, String> {
    let toks = tokens(inner)?;
    if toks.is_empty() {
        return Err("empty action".into());
    }
    let mut cmds = Vec::new();
    for (i, part) in toks.split(|t| *t == Token::Pipe).enumerate() {
        let cmd = parse_command(part)?;
        let piped_in = usize::from(i > 0);
        match &cmd {
            Command::Call(func, ops) => {
                let (min, max) = func.arity();
                let n = ops.len() + piped_in;
                if n < min || n > max {
                    return Err(format!("wrong number of arguments for {func:?}: {n}"));
                }
            }
            Command::Operand(_) if i > 0 => {
                return Err("only a function can follow |".into());
            }
            Command::Operand(_) => {}
        }
        cmds.push(cmd);
    }
    Ok(cmds)
}
