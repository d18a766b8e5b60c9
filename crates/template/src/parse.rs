//! Parser producing the template AST, mirroring Go's `text/template/parse`
//! (grammar, tree sets for `define`/`block`, and error messages).

use std::sync::Arc;

use crate::lex::{Item, ItemType, Lexer};

/// A parse tree of one named template.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub name: String,
    /// Name of the top-level template being parsed when this tree was made;
    /// used in error locations.
    pub parse_name: String,
    pub root: ListNode,
    /// Full text the tree was parsed from (positions index into it).
    pub text: Arc<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct ListNode {
    pub pos: usize,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text {
        pos: usize,
        text: String,
    },
    Comment {
        pos: usize,
        text: String,
    },
    Action {
        pos: usize,
        pipe: Pipe,
    },
    If(Box<Branch>),
    Range(Box<Branch>),
    With(Box<Branch>),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: ListNode,
    pub else_list: Option<ListNode>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<VarNode>,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct VarNode {
    pub pos: usize,
    pub ident: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) struct NumberNode {
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int64: i64,
    pub uint64: u64,
    pub float64: f64,
    pub imag: f64,
    pub text: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Variable(VarNode),
    Field {
        pos: usize,
        ident: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    Number {
        pos: usize,
        num: Box<NumberNode>,
    },
    String {
        pos: usize,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Variable(v) => v.pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// ---------------------------------------------------------------------------
// String forms (used in error contexts, as Go's Node.String()).

impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Variable(v) => write!(f, "{}", v),
            Arg::Field { ident, .. } => {
                for id in ident {
                    write!(f, ".{}", id)?;
                }
                Ok(())
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(_) = **node {
                    write!(f, "({})", node)?;
                } else {
                    write!(f, "{}", node)?;
                }
                for fl in fields {
                    write!(f, ".{}", fl)?;
                }
                Ok(())
            }
            Arg::Bool { val, .. } => f.write_str(if *val { "true" } else { "false" }),
            Arg::Number { num, .. } => f.write_str(&num.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{}", p),
        }
    }
}

impl std::fmt::Display for VarNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.ident.join("."))
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({})", p)?;
            } else {
                write!(f, "{}", a)?;
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            for (i, v) in self.decl.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", v)?;
            }
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{}", c)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for ListNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for n in &self.nodes {
            write!(f, "{}", n)?;
        }
        Ok(())
    }
}

fn write_branch(f: &mut std::fmt::Formatter<'_>, name: &str, b: &Branch) -> std::fmt::Result {
    write!(f, "{{{{{} {}}}}}{}", name, b.pipe, b.list)?;
    if let Some(e) = &b.else_list {
        write!(f, "{{{{else}}}}{}", e)?;
    }
    f.write_str("{{end}}")
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Text { text, .. } => f.write_str(text),
            Node::Comment { text, .. } => write!(f, "{{{{{}}}}}", text),
            Node::Action { pipe, .. } => write!(f, "{{{{{}}}}}", pipe),
            Node::If(b) => write_branch(f, "if", b),
            Node::Range(b) => write_branch(f, "range", b),
            Node::With(b) => write_branch(f, "with", b),
            Node::Template { name, pipe, .. } => {
                write!(f, "{{{{template {}", crate::gofmt::quote(name))?;
                if let Some(p) = pipe {
                    write!(f, " {}", p)?;
                }
                f.write_str("}}")
            }
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
        }
    }
}

/// Go's parse.IsEmptyTree.
pub(crate) fn is_empty_list(l: &ListNode) -> bool {
    l.nodes.iter().all(is_empty_node)
}

fn is_empty_node(n: &Node) -> bool {
    match n {
        Node::Comment { .. } => true,
        Node::Text { text, .. } => text.trim_matches(go_space).is_empty(),
        _ => false,
    }
}

fn go_space(c: char) -> bool {
    // bytes.TrimSpace uses unicode.IsSpace.
    matches!(
        c,
        ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{A0}'
    ) || (c as u32 > 0xFF && c.is_whitespace())
}

// ---------------------------------------------------------------------------
// Parser.

/// A parse error carrying Go's message.
#[derive(Debug, Clone)]
pub(crate) struct ParseError {
    pub message: String,
    pub line: usize,
}

type PResult<T> = Result<T, ParseError>;

struct TreeState {
    name: String,
    vars: Vec<String>,
    range_depth: usize,
    stack_depth: usize,
    action_line: usize,
}

pub(crate) struct Parser<'a, 'f> {
    lex: Lexer<'a>,
    token: [Item<'a>; 3],
    peek_count: usize,
    st: TreeState,
    parse_name: String,
    text: Arc<str>,
    has_func: &'f dyn Fn(&str) -> bool,
    pub trees: Vec<Tree>,
    max_paren_depth: usize,
}

fn eof_item<'a>() -> Item<'a> {
    Item {
        typ: ItemType::Eof,
        pos: 0,
        val: std::borrow::Cow::Borrowed(""),
        line: 0,
    }
}

/// Parses `text` as template `name`, returning every tree it defines in
/// definition order (the named one last unless it's redefined).
pub(crate) fn parse(
    name: &str,
    text: &str,
    left: &str,
    right: &str,
    has_func: &dyn Fn(&str) -> bool,
    max_paren_depth: usize,
) -> Result<Vec<Tree>, ParseError> {
    let arc: Arc<str> = Arc::from(text);
    let mut lex = Lexer::new(text, left, right);
    lex.break_ok = !has_func("break");
    lex.continue_ok = !has_func("continue");
    let mut p = Parser {
        lex,
        token: [eof_item(), eof_item(), eof_item()],
        peek_count: 0,
        st: TreeState {
            name: name.to_string(),
            vars: vec!["$".into()],
            range_depth: 0,
            stack_depth: 0,
            action_line: 0,
        },
        parse_name: name.to_string(),
        text: arc,
        has_func,
        trees: Vec::new(),
        max_paren_depth,
    };
    let root = p.parse_top()?;
    p.add(name.to_string(), root)?;
    Ok(p.trees)
}

impl<'a, 'f> Parser<'a, 'f> {
    fn next(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item<'a>) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item<'a>, t1: Item<'a>) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf<T>(&self, msg: String) -> PResult<T> {
        let line = self.token[0].line;
        Err(ParseError {
            message: format!("template: {}:{}: {}", self.parse_name, line, msg),
            line,
        })
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item<'a>> {
        let token = self.next_non_space();
        if token.typ != expected {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn expect_one_of(&mut self, e1: ItemType, e2: ItemType, context: &str) -> PResult<Item<'a>> {
        let token = self.next_non_space();
        if token.typ != e1 && token.typ != e2 {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn unexpected<T>(&self, token: &Item<'_>, context: &str) -> PResult<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.st.action_line != 0 && self.st.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.st.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{}{}", token, extra));
        }
        self.errorf(format!("unexpected {} in {}", token, context))
    }

    fn add(&mut self, name: String, root: ListNode) -> PResult<()> {
        if let Some(idx) = self.trees.iter().position(|t| t.name == name) {
            if is_empty_list(&self.trees[idx].root) {
                self.trees.remove(idx);
            } else if !is_empty_list(&root) {
                return self.errorf(format!(
                    "template: multiple definition of template {}",
                    crate::gofmt::quote(&name)
                ));
            } else {
                return Ok(());
            }
        }
        self.trees.push(Tree {
            name,
            parse_name: self.parse_name.clone(),
            root,
            text: self.text.clone(),
        });
        Ok(())
    }

    fn new_tree_state(&mut self, name: String) -> TreeState {
        std::mem::replace(
            &mut self.st,
            TreeState {
                name,
                vars: vec!["$".into()],
                range_depth: 0,
                stack_depth: 0,
                action_line: 0,
            },
        )
    }

    fn parse_top(&mut self) -> PResult<ListNode> {
        let pos = self.peek().pos;
        let mut root = ListNode {
            pos,
            nodes: Vec::new(),
        };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    let saved = self.new_tree_state("definition".into());
                    let r = self.parse_definition();
                    self.st = saved;
                    r?;
                    continue;
                }
                self.backup2(delim);
            }
            let n = self.text_or_action()?;
            match n {
                Parsed::End => return self.errorf("unexpected {{end}}".into()),
                Parsed::Else(_) => return self.errorf("unexpected {{else}}".into()),
                Parsed::Node(n) => root.nodes.push(n),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let name = self.expect_one_of(ItemType::String, ItemType::RawString, context)?;
        let unq = match crate::gofmt::unquote(&name.val) {
            Ok(s) => s,
            Err(e) => return self.errorf(e),
        };
        self.st.name = unq.clone();
        self.expect(ItemType::RightDelim, context)?;
        let (list, end) = self.item_list()?;
        match end {
            Parsed::End => {}
            other => return self.errorf(format!("unexpected {} in {}", other.describe(), context)),
        }
        self.add(unq, list)
    }

    fn item_list(&mut self) -> PResult<(ListNode, Parsed)> {
        crate::exec::grow(|| self.item_list_inner())
    }

    fn item_list_inner(&mut self) -> PResult<(ListNode, Parsed)> {
        let pos = self.peek_non_space().pos;
        let mut list = ListNode {
            pos,
            nodes: Vec::new(),
        };
        while self.peek_non_space().typ != ItemType::Eof {
            let n = self.text_or_action()?;
            match n {
                Parsed::End | Parsed::Else(_) => return Ok((list, n)),
                Parsed::Node(n) => list.nodes.push(n),
            }
        }
        self.errorf("unexpected EOF".into())
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                pos: token.pos,
                text: token.val.into_owned(),
            })),
            ItemType::LeftDelim => {
                self.st.action_line = token.line;
                let r = self.action();
                self.st.action_line = 0;
                r
            }
            ItemType::Comment => Ok(Parsed::Node(Node::Comment {
                pos: token.pos,
                text: token.val.into_owned(),
            })),
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break => return self.break_control(token.pos, "break").map(Parsed::Node),
            ItemType::Continue => {
                return self.break_control(token.pos, "continue").map(Parsed::Node)
            }
            ItemType::Else => return self.else_control(),
            ItemType::End => return self.end_control(),
            ItemType::If => return self.if_control().map(Parsed::Node),
            ItemType::Range => {
                let (pos, pipe, list, else_list) = self.parse_control("range")?;
                return Ok(Parsed::Node(Node::Range(Box::new(Branch {
                    pos,
                    pipe,
                    list,
                    else_list,
                }))));
            }
            ItemType::Template => return self.template_control().map(Parsed::Node),
            ItemType::With => return self.with_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let token = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action {
            pos: token.pos,
            pipe,
        }))
    }

    fn break_control(&mut self, pos: usize, word: &str) -> PResult<Node> {
        let token = self.next_non_space();
        if token.typ != ItemType::RightDelim {
            return self.unexpected(&token, &format!("{{{{{}}}}}", word));
        }
        if self.st.range_depth == 0 {
            return self.errorf(format!("{{{{{}}}}} outside {{{{range}}}}", word));
        }
        Ok(if word == "break" {
            Node::Break { pos }
        } else {
            Node::Continue { pos }
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        crate::exec::grow(|| self.pipeline_inner(context, end))
    }

    fn pipeline_inner(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ == ItemType::Variable {
                self.next();
                let token_after_variable = self.peek();
                let next = self.peek_non_space();
                if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(new_variable(v.pos, &v.val));
                    self.st.vars.push(v.val.to_string());
                } else if next.typ == ItemType::Char && next.val == "," {
                    self.next_non_space();
                    pipe.decl.push(new_variable(v.pos, &v.val));
                    self.st.vars.push(v.val.to_string());
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue 'decls;
                            }
                            _ => return self.errorf("range can only initialize variables".into()),
                        }
                    }
                    return self.errorf(format!("too many declarations in {}", context));
                } else if token_after_variable.typ == ItemType::Space {
                    self.backup3(v, token_after_variable);
                } else {
                    self.backup2(v);
                }
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {}", context));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                Arg::Bool { .. }
                | Arg::Dot { .. }
                | Arg::Nil { .. }
                | Arg::Number { .. }
                | Arg::String { .. },
            ) = c.args.first()
            {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn parse_control(
        &mut self,
        context: &str,
    ) -> PResult<(usize, Pipe, ListNode, Option<ListNode>)> {
        let nvars = self.st.vars.len();
        let r = self.parse_control_inner(context);
        self.st.vars.truncate(nvars);
        r
    }

    fn parse_control_inner(
        &mut self,
        context: &str,
    ) -> PResult<(usize, Pipe, ListNode, Option<ListNode>)> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.st.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.st.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        match next {
            Parsed::End => {}
            Parsed::Else(else_pos) => {
                if context == "if" && self.peek().typ == ItemType::If {
                    self.next();
                    let n = self.if_control()?;
                    else_list = Some(ListNode {
                        pos: else_pos,
                        nodes: vec![n],
                    });
                } else if context == "with" && self.peek().typ == ItemType::With {
                    self.next();
                    let n = self.with_control()?;
                    else_list = Some(ListNode {
                        pos: else_pos,
                        nodes: vec![n],
                    });
                } else {
                    let (el, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return self.errorf(format!("expected end; found {}", next.describe()));
                    }
                    else_list = Some(el);
                }
            }
            Parsed::Node(_) => {}
        }
        Ok((pipe.pos, pipe, list, else_list))
    }

    fn if_control(&mut self) -> PResult<Node> {
        let (pos, pipe, list, else_list) = self.parse_control("if")?;
        Ok(Node::If(Box::new(Branch {
            pos,
            pipe,
            list,
            else_list,
        })))
    }

    fn with_control(&mut self) -> PResult<Node> {
        let (pos, pipe, list, else_list) = self.parse_control("with")?;
        Ok(Node::With(Box::new(Branch {
            pos,
            pipe,
            list,
            else_list,
        })))
    }

    fn end_control(&mut self) -> PResult<Parsed> {
        self.expect(ItemType::RightDelim, "end")?;
        Ok(Parsed::End)
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else(peek.pos));
        }
        let token = self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else(token.pos))
    }

    fn block_control(&mut self) -> PResult<Node> {
        let context = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, context)?;
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        let saved = self.new_tree_state(name.clone());
        let r = self.item_list();
        self.st = saved;
        let (list, end) = r?;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {}", end.describe(), context));
        }
        self.add(name.clone(), list)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, context)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(context, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn parse_template_name(&mut self, token: &Item<'_>, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => match crate::gofmt::unquote(&token.val) {
                Ok(s) => Ok(s),
                Err(e) => self.errorf(e),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command".into());
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let node = match self.term()? {
            Some(n) => n,
            None => return Ok(None),
        };
        if self.peek().typ == ItemType::Field {
            let chain_pos = self.peek().pos;
            let mut fields = Vec::new();
            while self.peek().typ == ItemType::Field {
                let f = self.next().val;
                fields.push(f[1..].to_string());
            }
            return Ok(Some(match node {
                Arg::Field { mut ident, .. } => {
                    ident.extend(fields);
                    Arg::Field {
                        pos: chain_pos,
                        ident,
                    }
                }
                Arg::Variable(mut v) => {
                    v.ident.extend(fields);
                    Arg::Variable(VarNode {
                        pos: chain_pos,
                        ident: v.ident,
                    })
                }
                Arg::Bool { .. }
                | Arg::String { .. }
                | Arg::Number { .. }
                | Arg::Nil { .. }
                | Arg::Dot { .. } => {
                    return self.errorf(format!(
                        "unexpected . after term {}",
                        crate::gofmt::quote(&node.to_string())
                    ))
                }
                other => Arg::Chain {
                    pos: chain_pos,
                    node: Box::new(other),
                    fields,
                },
            }));
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Identifier => {
                if !(self.has_func)(&token.val) {
                    return self.errorf(format!(
                        "function {} not defined",
                        crate::gofmt::quote(&token.val)
                    ));
                }
                Ok(Some(Arg::Identifier {
                    pos: token.pos,
                    name: token.val.into_owned(),
                }))
            }
            ItemType::Dot => Ok(Some(Arg::Dot { pos: token.pos })),
            ItemType::Nil => Ok(Some(Arg::Nil { pos: token.pos })),
            ItemType::Variable => self.use_var(token.pos, &token.val).map(Some),
            ItemType::Field => Ok(Some(Arg::Field {
                pos: token.pos,
                ident: token.val[1..].split('.').map(String::from).collect(),
            })),
            ItemType::Bool => Ok(Some(Arg::Bool {
                pos: token.pos,
                val: token.val == "true",
            })),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                match new_number(&token.val, token.typ) {
                    Ok(n) => Ok(Some(Arg::Number {
                        pos: token.pos,
                        num: Box::new(n),
                    })),
                    Err(e) => self.errorf(e),
                }
            }
            ItemType::LeftParen => {
                if self.st.stack_depth >= self.max_paren_depth {
                    return self.errorf("max expression depth exceeded".into());
                }
                self.st.stack_depth += 1;
                let r = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.st.stack_depth -= 1;
                Ok(Some(Arg::Pipe(Box::new(r?))))
            }
            ItemType::String | ItemType::RawString => match crate::gofmt::unquote(&token.val) {
                Ok(s) => Ok(Some(Arg::String {
                    pos: token.pos,
                    quoted: token.val.into_owned(),
                    text: s,
                })),
                Err(e) => self.errorf(e),
            },
            _ => {
                self.backup();
                Ok(None)
            }
        }
    }

    fn use_var(&mut self, pos: usize, name: &str) -> PResult<Arg> {
        let v = new_variable(pos, name);
        if self.st.vars.iter().any(|n| *n == v.ident[0]) {
            return Ok(Arg::Variable(v));
        }
        self.errorf(format!(
            "undefined variable {}",
            crate::gofmt::quote(&v.ident[0])
        ))
    }
}

enum Parsed {
    Node(Node),
    End,
    Else(usize),
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".into(),
            Parsed::Else(_) => "{{else}}".into(),
        }
    }
}

fn new_variable(pos: usize, ident: &str) -> VarNode {
    VarNode {
        pos,
        ident: ident.split('.').map(String::from).collect(),
    }
}

/// Go's parse.newNumber.
fn new_number(text: &str, typ: ItemType) -> Result<NumberNode, String> {
    let mut n = NumberNode {
        is_int: false,
        is_uint: false,
        is_float: false,
        is_complex: false,
        int64: 0,
        uint64: 0,
        float64: 0.0,
        imag: 0.0,
        text: text.to_string(),
    };
    match typ {
        ItemType::CharConstant => {
            let (r, tail) = crate::gofmt::unquote_char(&text[1..], '\'')?;
            if tail != "'" {
                return Err(format!("malformed character constant: {}", text));
            }
            n.int64 = r as i64;
            n.is_int = true;
            n.uint64 = r as u64;
            n.is_uint = true;
            n.float64 = r as u32 as f64;
            n.is_float = true;
            return Ok(n);
        }
        ItemType::Complex => {
            return Err(format!("complex constants are not supported: {}", text));
        }
        _ => {}
    }
    if let Some(stripped) = text.strip_suffix('i') {
        if let Some(f) = crate::gofmt::parse_go_float(stripped) {
            n.is_complex = true;
            n.imag = f;
            if f == 0.0 {
                n.is_float = true;
                n.float64 = 0.0;
                n.is_int = true;
                n.is_uint = true;
            }
            return Ok(n);
        }
    }
    let u = crate::gofmt::parse_go_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint64 = u;
    }
    if let Some(i) = crate::gofmt::parse_go_int(text) {
        n.is_int = true;
        n.int64 = i;
        if i == 0 {
            n.is_uint = true;
            n.uint64 = u.unwrap_or(0);
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float64 = n.int64 as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float64 = n.uint64 as f64;
    } else if let Some(f) = crate::gofmt::parse_go_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", crate::gofmt::quote(text)));
        }
        n.is_float = true;
        n.float64 = f;
        if !n.is_int
            && f.fract() == 0.0
            && (-9.223372036854776e18..9.223372036854776e18).contains(&f)
        {
            n.is_int = true;
            n.int64 = f as i64;
        }
        if !n.is_uint && f.fract() == 0.0 && (0.0..1.8446744073709552e19).contains(&f) {
            n.is_uint = true;
            n.uint64 = f as u64;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            crate::gofmt::quote(text)
        ));
    }
    Ok(n)
}
