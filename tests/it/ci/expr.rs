//! GitHub Actions expressions (`${{ … }}` and `if:`), as far as workflows in `examples/ci/`
//! use them: literals, context paths, `==`/`!=` (strings compared ignoring case, other types
//! by number, as Actions does), `!`, `&&`, `||` (which return an operand, not a boolean),
//! parentheses, and the status functions. Anything else panics, so that a workflow using a
//! construct the harness cannot evaluate fails its test instead of being guessed at.

/// A value of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
}

impl V {
    pub fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Num(n) => *n != 0.0 && !n.is_nan(),
            V::Str(s) => !s.is_empty(),
        }
    }

    /// As interpolated into a string.
    pub fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Bool(b) => b.to_string(),
            V::Num(n) => n.to_string(),
            V::Str(s) => s.clone(),
        }
    }

    fn num(&self) -> f64 {
        match self {
            V::Null => 0.0,
            V::Bool(b) => f64::from(u8::from(*b)),
            V::Num(n) => *n,
            V::Str(s) if s.trim().is_empty() => 0.0,
            V::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
        }
    }

    fn loose_eq(&self, other: &V) -> bool {
        match (self, other) {
            (V::Str(a), V::Str(b)) => a.eq_ignore_ascii_case(b),
            (V::Null, V::Null) => true,
            (V::Bool(a), V::Bool(b)) => a == b,
            _ => self.num() == other.num(),
        }
    }
}

/// What an expression can see: context paths and the status functions.
pub trait Scope {
    /// `github.ref` → `["github", "ref"]`. Panics on a context the harness does not model.
    fn lookup(&self, path: &[String]) -> V;
    /// `success()`, `failure()`, `always()`, `cancelled()`.
    fn status(&self, function: &str) -> bool;
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Ident(String),
    Op(&'static str),
}

fn tokens(src: &str) -> Vec<Tok> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => panic!("unterminated string in expression {src:?}"),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        s.push(*c);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Num(text.parse().unwrap()));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["!", "(", ")", ".", "[", "]"]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .unwrap_or_else(|| panic!("the harness cannot evaluate {c:?} in {src:?}"));
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    out
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    scope: &'a dyn Scope,
    src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> V {
        let mut left = self.and();
        while self.eat("||") {
            let right = self.and();
            left = if left.truthy() { left } else { right };
        }
        left
    }

    fn and(&mut self) -> V {
        let mut left = self.unary();
        while self.eat("&&") {
            let right = self.unary();
            left = if left.truthy() { right } else { left };
        }
        left
    }

    fn unary(&mut self) -> V {
        if self.eat("!") {
            return V::Bool(!self.unary().truthy());
        }
        let left = self.primary();
        if self.eat("==") {
            let right = self.primary();
            return V::Bool(left.loose_eq(&right));
        }
        if self.eat("!=") {
            let right = self.primary();
            return V::Bool(!left.loose_eq(&right));
        }
        left
    }

    fn primary(&mut self) -> V {
        let src = self.src;
        let tok = self
            .peek()
            .cloned()
            .unwrap_or_else(|| panic!("expression ends early: {src:?}"));
        self.at += 1;
        match tok {
            Tok::Str(s) => V::Str(s),
            Tok::Num(n) => V::Num(n),
            Tok::Op("(") => {
                let v = self.or();
                assert!(self.eat(")"), "unbalanced parentheses in {src:?}");
                v
            }
            Tok::Ident(word) => match word.as_str() {
                "true" => V::Bool(true),
                "false" => V::Bool(false),
                "null" => V::Null,
                _ if self.eat("(") => {
                    assert!(
                        self.eat(")"),
                        "the harness knows only status functions: {src:?}"
                    );
                    match word.as_str() {
                        "success" | "failure" | "always" | "cancelled" => {
                            V::Bool(self.scope.status(&word))
                        }
                        other => panic!("the harness cannot evaluate {other}() in {src:?}"),
                    }
                }
                _ => {
                    let mut path = vec![word];
                    loop {
                        if self.eat(".") {
                            match self.peek().cloned() {
                                Some(Tok::Ident(w)) => {
                                    self.at += 1;
                                    path.push(w);
                                }
                                _ => panic!("bad property access in {src:?}"),
                            }
                        } else if self.eat("[") {
                            match self.peek().cloned() {
                                Some(Tok::Str(w)) => {
                                    self.at += 1;
                                    path.push(w);
                                }
                                _ => panic!("bad index in {src:?}"),
                            }
                            assert!(self.eat("]"), "bad index in {src:?}");
                        } else {
                            break;
                        }
                    }
                    self.scope.lookup(&path)
                }
            },
            Tok::Op(op) => panic!("unexpected {op:?} in {src:?}"),
        }
    }
}

/// Evaluates one expression (without `${{ }}`).
pub fn eval(src: &str, scope: &dyn Scope) -> V {
    let mut p = Parser {
        toks: tokens(src),
        at: 0,
        scope,
        src,
    };
    let v = p.or();
    assert!(
        p.at == p.toks.len(),
        "trailing tokens in expression {src:?}"
    );
    v
}

/// Whether the expression calls a status function (else `if:` implies `success() && …`).
fn has_status_function(src: &str) -> bool {
    let toks = tokens(src);
    toks.windows(2).any(|w| {
        matches!(&w[0], Tok::Ident(f) if ["success", "failure", "always", "cancelled"].contains(&f.as_str()))
            && w[1] == Tok::Op("(")
    })
}

/// Evaluates an `if:` condition (with or without `${{ }}`); an absent one is `success()`.
pub fn condition(src: Option<&str>, scope: &dyn Scope) -> bool {
    let Some(src) = src else {
        return scope.status("success");
    };
    let trimmed = src.trim();
    let inner = trimmed
        .strip_prefix("${{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(trimmed);
    if has_status_function(inner) {
        eval(inner, scope).truthy()
    } else {
        scope.status("success") && eval(inner, scope).truthy()
    }
}

/// Replaces every `${{ … }}` in `text` by its value.
pub fn interpolate(text: &str, scope: &dyn Scope) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed ${{{{ in {text:?}"));
        out.push_str(&eval(&rest[start + 3..start + end], scope).text());
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

struct S;
impl Scope for S {
    fn lookup(&self, path: &[String]) -> V {
        match path.join(".").as_str() {
            "steps.plan.outputs.exit" => V::Str("3".into()),
            "github.event_name" => V::Str("Pull_Request".into()),
            "secrets.MISSING" => V::Str(String::new()),
            other => panic!("unknown {other}"),
        }
    }
    fn status(&self, f: &str) -> bool {
        f != "failure" && f != "cancelled"
    }
}

#[test]
fn expressions_follow_actions_rules() {
    assert_eq!(eval("steps.plan.outputs.exit == '3'", &S), V::Bool(true));
    assert_eq!(eval("steps.plan.outputs.exit == 3", &S), V::Bool(true));
    assert_eq!(
        eval("github.event_name == 'pull_request'", &S),
        V::Bool(true)
    );
    assert_eq!(
        eval("secrets.MISSING || 'fallback'", &S),
        V::Str("fallback".into())
    );
    assert_eq!(eval("!cancelled()", &S), V::Bool(true));
    assert!(condition(Some("${{ !cancelled() }}"), &S));
    assert!(!condition(
        Some("steps.plan.outputs.exit == '2' || steps['plan'].outputs.exit == '0'"),
        &S
    ));
    assert_eq!(
        interpolate("a-${{ steps.plan.outputs.exit }}-b", &S),
        "a-3-b"
    );
}
