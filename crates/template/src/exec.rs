//! Execution of parse trees, mirroring Go's `text/template/exec.go`:
//! evaluation order, variable scoping, `missingkey`, argument checking and
//! error messages (`template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::funcs::{Function, Param, Special};
use crate::gofmt;
use crate::parse::{Arg, Branch, Command, ListNode, Node, Pipe, Tree, VarNode};
use crate::value::{ElemType, Value};
use crate::{ErrorKind, Limits, MissingKey, TemplateError};

/// A set of associated templates with their functions and options: what a
/// Go `*template.Template` shares with the templates it defines.
#[derive(Clone)]
pub(crate) struct Set {
    pub trees: HashMap<String, Arc<Tree>>,
    pub funcs: Arc<crate::funcs::FuncMap>,
    pub builtins: Arc<crate::funcs::FuncMap>,
    pub missing: MissingKey,
    pub limits: Limits,
    pub left: String,
    pub right: String,
    /// Name of the template the set was created with (Go's `t.Name()` of
    /// the root, used by `include` errors and as `tpl`'s template name).
    pub root_name: String,
}

impl Set {
    pub(crate) fn find_function(&self, name: &str) -> Option<(&Function, bool)> {
        if let Some(f) = self.funcs.get(name) {
            return Some((f, false));
        }
        self.builtins.get(name).map(|f| (f, true))
    }

    pub(crate) fn has_function(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || self.builtins.contains_key(name)
    }
}

/// Shared counters bounding one execution (including nested `include`/`tpl`).
#[derive(Default)]
pub(crate) struct Budget {
    pub output: usize,
    pub iterations: u64,
    pub included: HashMap<String, usize>,
}

/// What a function implementation sees of the running execution: enough to
/// execute other templates (`include`) or parse new ones (`tpl`).
pub struct Ctx<'a> {
    pub(crate) set: &'a Set,
    pub(crate) depth: usize,
    pub(crate) budget: &'a mut Budget,
}

impl<'a> Ctx<'a> {
    /// The `missingkey` option in force.
    pub fn missing_key(&self) -> MissingKey {
        self.set.missing
    }

    /// Executes the associated template `name` with `data` (Helm's
    /// `include`), returning its output or Go's error text.
    pub fn include(&mut self, name: &str, data: Value) -> Result<String, String> {
        if self.depth + 1 > self.set.limits.max_depth {
            return Err(format!(
                "exceeded maximum template depth ({})",
                self.set.limits.max_depth
            ));
        }
        let count = self.budget.included.get(name).copied().unwrap_or(0);
        if count > self.set.limits.max_include_per_name {
            return Err(format!(
                "rendering template has a nested reference name: {}: unable to execute template",
                name
            ));
        }
        *self.budget.included.entry(name.to_string()).or_insert(0) += 1;
        let (set, depth) = (self.set, self.depth + 1);
        let budget = &mut *self.budget;
        let r = grow(|| execute_named(set, name, data, depth, budget));
        if let Some(c) = self.budget.included.get_mut(name) {
            *c -= 1;
        }
        r.map_err(|e| e.message)
    }

    /// Parses `text` as a new template in a copy of this set, named like
    /// the set's root template, and executes it with `data` (Helm's `tpl`).
    /// `<no value>` is removed from the output, as Helm does.
    pub fn tpl(&mut self, text: &str, data: Value) -> Result<String, String> {
        let mut set = self.set.clone();
        let name = set.root_name.clone();
        if self.depth + 1 > set.limits.max_depth {
            return Err(format!(
                "exceeded maximum template depth ({})",
                set.limits.max_depth
            ));
        }
        if let Err(e) = crate::add_parse(&mut set, &name, text) {
            return Err(format!(
                "cannot parse template {}: {}",
                gofmt::quote(text),
                e.message
            ));
        }
        let depth = self.depth + 1;
        let budget = &mut *self.budget;
        match grow(|| execute_named(&set, &name, data, depth, budget)) {
            Ok(s) => Ok(s.replace("<no value>", "")),
            Err(e) => Err(format!(
                "error during tpl function execution for {}: {}",
                gofmt::quote(text),
                e.message
            )),
        }
    }
}

/// Executes template `name` of `set`.
pub(crate) fn execute_named(
    set: &Set,
    name: &str,
    data: Value,
    depth: usize,
    budget: &mut Budget,
) -> Result<String, TemplateError> {
    let tree = match set.trees.get(name) {
        Some(t) => t.clone(),
        None => {
            return Err(TemplateError {
                kind: ErrorKind::Exec,
                template: name.to_string(),
                line: 0,
                column: None,
                message: format!(
                    "template: no template {} associated with template {}",
                    gofmt::quote(name),
                    gofmt::quote(&set.root_name)
                ),
            })
        }
    };
    // reflect.ValueOf(nil) is no value at all.
    let data = match data {
        Value::Nil => Value::Invalid,
        other => other,
    };
    let mut out = String::new();
    let mut st = State {
        set,
        tree: &tree,
        node: None,
        vars: vec![(
            "$".to_string(),
            Val {
                v: data.clone(),
                iface: false,
            },
        )],
        depth,
        out: &mut out,
        budget,
    };
    let dot = Val {
        v: data,
        iface: false,
    };
    match st.walk_list(&dot, &tree.root) {
        Ok(()) => Ok(out),
        Err(Flow::Err(e)) => Err(e),
        Err(_) => Ok(out),
    }
}

/// Runs `f`, first moving to a fresh stack segment when less than 128 KiB
/// of stack is left, so deep (but bounded) template recursion cannot
/// overflow the caller's stack.
pub(crate) fn grow<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(128 * 1024, 4 * 1024 * 1024, f)
}

pub(crate) enum Flow {
    Break,
    Continue,
    Err(TemplateError),
}

type R<T> = Result<T, Flow>;

/// A value plus whether Go would hold it in an `interface{}` (map and slice
/// elements of `interface{}` type): affects a few error messages.
#[derive(Clone, Debug)]
struct Val {
    v: Value,
    iface: bool,
}

fn plain(v: Value) -> Val {
    Val { v, iface: false }
}

#[derive(Clone, Copy)]
enum NodeRef<'t> {
    Node(&'t Node),
    Arg(&'t Arg),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Var(&'t VarNode),
    List(&'t ListNode),
}

impl<'t> NodeRef<'t> {
    fn pos(&self) -> usize {
        match self {
            NodeRef::Node(n) => match n {
                Node::Text { pos, .. }
                | Node::Comment { pos, .. }
                | Node::Action { pos, .. }
                | Node::Template { pos, .. }
                | Node::Break { pos }
                | Node::Continue { pos } => *pos,
                Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
            },
            NodeRef::Arg(a) => a.pos(),
            NodeRef::Pipe(p) => p.pos,
            NodeRef::Cmd(c) => c.pos,
            NodeRef::Var(v) => v.pos,
            NodeRef::List(l) => l.pos,
        }
    }

    fn context(&self) -> String {
        match self {
            NodeRef::Node(n) => n.to_string(),
            NodeRef::Arg(a) => a.to_string(),
            NodeRef::Pipe(p) => p.to_string(),
            NodeRef::Cmd(c) => c.to_string(),
            NodeRef::Var(v) => v.to_string(),
            NodeRef::List(l) => l.to_string(),
        }
    }
}

struct State<'a> {
    set: &'a Set,
    tree: &'a Tree,
    node: Option<NodeRef<'a>>,
    vars: Vec<(String, Val)>,
    depth: usize,
    out: &'a mut String,
    budget: &'a mut Budget,
}

impl<'a> State<'a> {
    fn at(&mut self, n: NodeRef<'a>) {
        self.node = Some(n);
    }

    fn err(&self, kind: ErrorKind, msg: String) -> Flow {
        let name = &self.tree.name;
        match self.node {
            None => Flow::Err(TemplateError {
                kind,
                template: name.clone(),
                line: 0,
                column: None,
                message: format!("template: {}: {}", name, msg),
            }),
            Some(n) => {
                let pos = n.pos().min(self.tree.text.len());
                let text = &self.tree.text[..pos];
                let (line, col) = match text.rfind('\n') {
                    None => (1, pos),
                    Some(i) => (1 + text.matches('\n').count(), pos - (i + 1)),
                };
                let location = format!("{}:{}:{}", self.tree.parse_name, line, col);
                Flow::Err(TemplateError {
                    kind,
                    template: name.clone(),
                    line,
                    column: Some(col),
                    message: format!(
                        "template: {}: executing {} at <{}>: {}",
                        location,
                        gofmt::quote(name),
                        n.context(),
                        msg
                    ),
                })
            }
        }
    }

    fn errorf<T>(&self, msg: String) -> R<T> {
        Err(self.err(ErrorKind::Exec, msg))
    }

    fn write(&mut self, s: &str) -> R<()> {
        self.budget.output += s.len();
        if self.budget.output > self.set.limits.max_output_bytes {
            return Err(self.err(
                ErrorKind::Limit,
                format!(
                    "output exceeds the limit of {} bytes",
                    self.set.limits.max_output_bytes
                ),
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn mark(&self) -> usize {
        self.vars.len()
    }

    fn pop(&mut self, mark: usize) {
        self.vars.truncate(mark);
    }

    fn set_var(&mut self, name: &str, v: Val) -> R<()> {
        for i in (0..self.vars.len()).rev() {
            if self.vars[i].0 == name {
                self.vars[i].1 = v;
                return Ok(());
            }
        }
        self.errorf(format!("undefined variable: {}", name))
    }

    fn set_top_var(&mut self, n: usize, v: Val) {
        let len = self.vars.len();
        if n <= len {
            self.vars[len - n].1 = v;
        }
    }

    fn var_value(&self, name: &str) -> R<Val> {
        for i in (0..self.vars.len()).rev() {
            if self.vars[i].0 == name {
                return Ok(self.vars[i].1.clone());
            }
        }
        self.errorf(format!("undefined variable: {}", name))
    }

    // -- walking --------------------------------------------------------

    fn walk_list(&mut self, dot: &Val, list: &'a ListNode) -> R<()> {
        grow(|| {
            self.at(NodeRef::List(list));
            for n in &list.nodes {
                self.walk(dot, n)?;
            }
            Ok(())
        })
    }

    fn walk(&mut self, dot: &Val, node: &'a Node) -> R<()> {
        self.at(NodeRef::Node(node));
        match node {
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, Some(pipe))?;
                if pipe.decl.is_empty() {
                    self.print_value(NodeRef::Node(node), &val)?;
                }
                Ok(())
            }
            Node::Break { .. } => Err(Flow::Break),
            Node::Continue { .. } => Err(Flow::Continue),
            Node::Comment { .. } => Ok(()),
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Text { text, .. } => self.write(text),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val, b: &'a Branch) -> R<()> {
        let mark = self.mark();
        let r = (|| {
            let val = self.eval_pipeline(dot, Some(&b.pipe))?;
            if val.truth() {
                if with {
                    self.walk_list(&plain(val), &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.pop(mark);
        r
    }

    fn count_iteration(&mut self) -> R<()> {
        self.budget.iterations += 1;
        if self.budget.iterations > self.set.limits.max_range_iterations {
            return Err(self.err(
                ErrorKind::Limit,
                format!(
                    "range iterations exceed the limit of {}",
                    self.set.limits.max_range_iterations
                ),
            ));
        }
        Ok(())
    }

    fn one_iteration(&mut self, b: &'a Branch, mark: usize, index: Val, elem: Val) -> R<()> {
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0].ident[0], index.clone())?;
                } else {
                    self.set_var(&decl[0].ident[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1].ident[0], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let r = self.walk_list(&elem, &b.list);
        self.pop(mark);
        match r {
            Err(Flow::Continue) => Ok(()),
            other => other,
        }
    }

    fn walk_range(&mut self, dot: &Val, node: &'a Node, b: &'a Branch) -> R<()> {
        self.at(NodeRef::Node(node));
        let outer = self.mark();
        let r = self.walk_range_inner(dot, b);
        self.pop(outer);
        match r {
            Err(Flow::Break) => Ok(()),
            other => other,
        }
    }

    fn walk_range_inner(&mut self, dot: &Val, b: &'a Branch) -> R<()> {
        let val = self.eval_pipeline(dot, Some(&b.pipe))?;
        let mark = self.mark();
        match &val {
            Value::Int(_) | Value::Int64(_) | Value::Uint64(_) => {
                if b.pipe.decl.len() > 1 {
                    return self.errorf(format!(
                        "can't use {} to iterate over more than one variable",
                        gofmt::to_string(&val)
                    ));
                }
                let n: i128 = match &val {
                    Value::Int(i) | Value::Int64(i) => *i as i128,
                    Value::Uint64(u) => *u as i128,
                    _ => 0,
                };
                if n > 0 {
                    for i in 0..n {
                        self.count_iteration()?;
                        let v = match &val {
                            Value::Int(_) => Value::Int(i as i64),
                            Value::Int64(_) => Value::Int64(i as i64),
                            _ => Value::Uint64(i as u64),
                        };
                        self.one_iteration(b, mark, plain(Value::Invalid), plain(v))?;
                    }
                    return Ok(());
                }
            }
            Value::List(l) => {
                if !l.items.is_empty() {
                    let iface = l.elem == ElemType::Any;
                    for (i, item) in l.items.iter().enumerate() {
                        self.count_iteration()?;
                        self.one_iteration(
                            b,
                            mark,
                            plain(Value::Int(i as i64)),
                            Val {
                                v: item.clone(),
                                iface,
                            },
                        )?;
                    }
                    return Ok(());
                }
            }
            Value::Map(m) => {
                if !m.is_empty() {
                    let iface = !m.string_values;
                    for (k, v) in m.entries() {
                        self.count_iteration()?;
                        self.one_iteration(
                            b,
                            mark,
                            plain(Value::str(k.as_str())),
                            Val { v, iface },
                        )?;
                    }
                    return Ok(());
                }
            }
            Value::Invalid => {}
            other => {
                return self.errorf(format!(
                    "range can't iterate over {}",
                    gofmt::to_string(other)
                ))
            }
        }
        if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?;
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Val,
        node: &'a Node,
        name: &str,
        pipe: Option<&'a Pipe>,
    ) -> R<()> {
        self.at(NodeRef::Node(node));
        let tree = match self.set.trees.get(name) {
            Some(t) => t.clone(),
            None => return self.errorf(format!("template {} not defined", gofmt::quote(name))),
        };
        if self.depth >= self.set.limits.max_depth {
            return Err(self.err(
                ErrorKind::Limit,
                format!(
                    "exceeded maximum template depth ({})",
                    self.set.limits.max_depth
                ),
            ));
        }
        let newdot = self.eval_pipeline(dot, pipe)?;
        let mut st = State {
            set: self.set,
            tree: &tree,
            node: None,
            vars: vec![("$".to_string(), plain(newdot.clone()))],
            depth: self.depth + 1,
            out: &mut *self.out,
            budget: &mut *self.budget,
        };
        match grow(|| st.walk_list(&plain(newdot), &tree.root)) {
            Ok(()) => Ok(()),
            Err(Flow::Err(e)) => Err(Flow::Err(e)),
            // break/continue cannot cross template boundaries (the parser
            // rejects them outside range).
            Err(_) => Ok(()),
        }
    }

    // -- evaluation -----------------------------------------------------

    fn eval_pipeline(&mut self, dot: &Val, pipe: Option<&'a Pipe>) -> R<Value> {
        grow(|| self.eval_pipeline_inner(dot, pipe))
    }

    fn eval_pipeline_inner(&mut self, dot: &Val, pipe: Option<&'a Pipe>) -> R<Value> {
        let pipe = match pipe {
            None => return Ok(Value::Invalid),
            Some(p) => p,
        };
        self.at(NodeRef::Pipe(pipe));
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // A nil interface{} result becomes "no value".
            let v = match v.v {
                Value::Nil => Value::Invalid,
                other => other,
            };
            value = Some(v);
        }
        let value = value.unwrap_or(Value::Invalid);
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(&var.ident[0], plain(value.clone()))?;
            } else {
                self.vars.push((var.ident[0].clone(), plain(value.clone())));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Value>) -> R<()> {
        if args.len() > 1 || final_.is_some() {
            return self.errorf(format!(
                "can't give argument to non-function {}",
                args.first().map(|a| a.to_string()).unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Val, cmd: &'a Command, final_: Option<Value>) -> R<Val> {
        let first = match cmd.args.first() {
            Some(a) => a,
            None => return self.errorf("empty command".into()),
        };
        match first {
            Arg::Field { ident, .. } => {
                return self.eval_field_node(dot, first, ident, &cmd.args, final_)
            }
            Arg::Chain { node, fields, .. } => {
                return self.eval_chain_node(dot, first, node, fields, &cmd.args, final_)
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, NodeRef::Cmd(cmd), name, &cmd.args, final_)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, Some(p)).map(plain);
            }
            Arg::Variable(v) => return self.eval_variable_node(dot, v, &cmd.args, final_),
            _ => {}
        }
        self.at(NodeRef::Arg(first));
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool { val, .. } => Ok(plain(Value::Bool(*val))),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.errorf("nil is not a command".into()),
            Arg::Number { num, .. } => self.ideal_constant(first, num).map(plain),
            Arg::String { text, .. } => Ok(plain(Value::str(text.as_str()))),
            _ => self.errorf(format!(
                "can't evaluate command {}",
                gofmt::quote(&first.to_string())
            )),
        }
    }

    fn ideal_constant(&mut self, n: &'a Arg, c: &crate::parse::NumberNode) -> R<Value> {
        self.at(NodeRef::Arg(n));
        let t = &c.text;
        let is_hex_int = t.len() > 2
            && t.starts_with('0')
            && (t.as_bytes()[1] == b'x' || t.as_bytes()[1] == b'X')
            && !t.contains(['p', 'P']);
        let is_rune = t.starts_with('\'');
        if c.is_complex {
            return self.errorf(format!("complex constant {} is not supported", t));
        }
        if c.is_float && !is_hex_int && !is_rune && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(c.float64));
        }
        if c.is_int {
            return Ok(Value::Int(c.int64));
        }
        if c.is_uint {
            return self.errorf(format!("{} overflows int", t));
        }
        Ok(Value::Invalid)
    }

    fn eval_field_node(
        &mut self,
        dot: &Val,
        field: &'a Arg,
        ident: &[String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Val> {
        self.at(NodeRef::Arg(field));
        self.eval_field_chain(dot, dot.clone(), NodeRef::Arg(field), ident, args, final_)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Val,
        chain: &'a Arg,
        node: &'a Arg,
        fields: &[String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Val> {
        self.at(NodeRef::Arg(chain));
        if fields.is_empty() {
            return self.errorf("internal error: no fields in evalChainNode".into());
        }
        if let Arg::Nil { .. } = node {
            return self.errorf(format!("indirection through explicit nil in {}", chain));
        }
        let pipe = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(dot, plain(pipe), NodeRef::Arg(chain), fields, args, final_)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Val,
        var: &'a VarNode,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Val> {
        self.at(NodeRef::Var(var));
        let value = self.var_value(&var.ident[0])?;
        if var.ident.len() == 1 {
            self.not_a_function(args, &final_)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, NodeRef::Var(var), &var.ident[1..], args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Val,
        receiver: Val,
        node: NodeRef<'a>,
        ident: &[String],
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Val> {
        let n = ident.len();
        let mut receiver = receiver;
        for id in &ident[..n - 1] {
            receiver = self.eval_field(dot, id, node, &[], None, receiver)?;
        }
        self.eval_field(dot, &ident[n - 1], node, args, final_, receiver)
    }

    fn eval_function(
        &mut self,
        dot: &Val,
        ident: &'a Arg,
        node: NodeRef<'a>,
        name: &str,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Val> {
        self.at(NodeRef::Arg(ident));
        let (f, is_builtin) = match self.set.find_function(name) {
            Some((f, b)) => (f.clone(), b),
            None => {
                return self.errorf(format!("{} is not a defined function", gofmt::quote(name)))
            }
        };
        self.eval_call(dot, &f, is_builtin, node, name, args, final_)
    }

    fn eval_field(
        &mut self,
        dot: &Val,
        field_name: &str,
        node: NodeRef<'a>,
        args: &'a [Arg],
        final_: Option<Value>,
        receiver: Val,
    ) -> R<Val> {
        if let Value::Invalid = receiver.v {
            if self.set.missing == MissingKey::Error {
                return self.errorf(format!(
                    "nil data; no entry for key {}",
                    gofmt::quote(field_name)
                ));
            }
            return Ok(plain(Value::Invalid));
        }
        let typ = if receiver.iface {
            "interface {}"
        } else {
            receiver.v.go_type()
        };
        if let Value::Nil = receiver.v {
            return self.errorf(format!(
                "nil pointer evaluating interface {{}}.{}",
                field_name
            ));
        }
        if let Some(method) = crate::methods::method(&receiver.v, field_name) {
            let r = self.eval_call(dot, &method, false, node, field_name, args, final_)?;
            return Ok(r);
        }
        let has_args = args.len() > 1 || final_.is_some();
        match &receiver.v {
            Value::Map(m) => {
                if has_args {
                    return self
                        .errorf(format!("{} is not a method but has arguments", field_name));
                }
                match m.get(field_name) {
                    Some(v) => Ok(Val {
                        v,
                        iface: !m.string_values,
                    }),
                    None => match self.set.missing {
                        MissingKey::Default => Ok(plain(Value::Invalid)),
                        MissingKey::Zero => Ok(if m.string_values {
                            plain(Value::str(""))
                        } else {
                            Val {
                                v: Value::Nil,
                                iface: true,
                            }
                        }),
                        MissingKey::Error => self.errorf(format!(
                            "map has no entry for key {}",
                            gofmt::quote(field_name)
                        )),
                    },
                }
            }
            Value::Version(_) => self.errorf(format!(
                "can't evaluate field {} in type {}",
                field_name, typ
            )),
            _ => self.errorf(format!(
                "can't evaluate field {} in type {}",
                field_name, typ
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_call(
        &mut self,
        dot: &Val,
        f: &Function,
        is_builtin: bool,
        node: NodeRef<'a>,
        name: &str,
        args: &'a [Arg],
        final_: Option<Value>,
    ) -> R<Val> {
        let args: &'a [Arg] = if args.is_empty() { args } else { &args[1..] };
        let mut num_in = args.len();
        if final_.is_some() {
            num_in += 1;
        }
        let mut num_fixed = args.len();
        if f.variadic.is_some() {
            num_fixed = f.params.len();
            if num_in < num_fixed {
                return self.errorf(format!(
                    "wrong number of args for {}: want at least {} got {}",
                    name,
                    f.params.len(),
                    args.len()
                ));
            }
        } else if num_in != f.num_in() {
            return self.errorf(format!(
                "wrong number of args for {}: want {} got {}",
                name,
                f.num_in(),
                num_in
            ));
        }
        if is_builtin && (f.special == Special::And || f.special == Special::Or) {
            let is_or = f.special == Special::Or;
            let mut v = Value::Invalid;
            for a in args {
                v = self.eval_arg(dot, Some(Param::Raw), a)?;
                if v.truth() == is_or {
                    return Ok(plain(v));
                }
            }
            if let Some(fv) = final_ {
                v = fv;
            }
            return Ok(plain(v));
        }
        let mut argv: Vec<Value> = Vec::with_capacity(num_in + 1);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            let v = self.eval_arg(dot, Some(f.param_at(i)), &args[i])?;
            argv.push(v);
            i += 1;
        }
        if let Some(vt) = f.variadic {
            while i < args.len() {
                let v = self.eval_arg(dot, Some(vt), &args[i])?;
                argv.push(v);
                i += 1;
            }
        }
        if let Some(fv) = final_ {
            let t = if f.variadic.is_some() {
                if num_in - 1 < num_fixed {
                    f.param_at(num_in - 1)
                } else {
                    f.variadic.unwrap_or(Param::Any)
                }
            } else {
                f.param_at(f.num_in().saturating_sub(1))
            };
            let v = self.validate_type(fv, Some(t))?;
            argv.push(v);
        }
        if is_builtin && f.special == Special::Call {
            let callee = if args.is_empty() {
                argv.first().map(gofmt::to_string).unwrap_or_default()
            } else {
                args[0].to_string()
            };
            argv.insert(0, Value::str(callee));
        }
        let result = {
            let mut ctx = Ctx {
                set: self.set,
                depth: self.depth,
                budget: &mut *self.budget,
            };
            (f.imp)(&mut ctx, argv)
        };
        match result {
            Ok(v) => Ok(plain(v)),
            Err(e) => {
                self.at(node);
                let kind = if e.contains("exceeded maximum template depth")
                    || e.contains("exceeds the limit of")
                {
                    ErrorKind::Limit
                } else {
                    ErrorKind::Exec
                };
                Err(self.err(kind, format!("error calling {}: {}", name, e)))
            }
        }
    }

    fn validate_type(&mut self, value: Value, typ: Option<Param>) -> R<Value> {
        let typ = match typ {
            None => return Ok(value),
            Some(t) => t,
        };
        if let Value::Invalid = value {
            if typ.can_be_nil() {
                return Ok(match typ {
                    Param::Any | Param::Map => Value::Nil,
                    _ => Value::Invalid,
                });
            }
            return self.errorf(format!("invalid value; expected {}", typ.go_name()));
        }
        let ok = match (typ, &value) {
            (Param::Any | Param::Raw, _) => true,
            (Param::String, Value::String(_)) => true,
            (Param::Int, Value::Int(_)) => true,
            (Param::Float64, Value::Float(_)) => true,
            (Param::Bool, Value::Bool(_)) => true,
            (Param::Map, Value::Map(m)) => {
                !m.string_values && m.methods().and_then(|x| x.type_name()).is_none()
            }
            (Param::Time, Value::Time(_)) => true,
            _ => false,
        };
        if ok {
            return Ok(value);
        }
        let got = if let Value::Nil = value {
            "interface {}"
        } else {
            value.go_type()
        };
        self.errorf(format!(
            "wrong type for value; expected {}; got {}",
            typ.go_name(),
            got
        ))
    }

    fn eval_arg(&mut self, dot: &Val, typ: Option<Param>, n: &'a Arg) -> R<Value> {
        self.at(NodeRef::Arg(n));
        match n {
            Arg::Dot { .. } => return self.validate_type(dot.v.clone(), typ),
            Arg::Nil { .. } => {
                let t = typ.unwrap_or(Param::Any);
                if t.can_be_nil() {
                    return Ok(match t {
                        Param::Raw => Value::Invalid,
                        _ => Value::Nil,
                    });
                }
                return self.errorf(format!("cannot assign nil to {}", t.go_name()));
            }
            Arg::Field { ident, .. } => {
                let v = self.eval_field_node(dot, n, ident, std::slice::from_ref(n), None)?;
                return self.validate_type(v.v, typ);
            }
            Arg::Variable(var) => {
                let v = self.eval_variable_node(dot, var, &[], None)?;
                return self.validate_type(v.v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, Some(p))?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier { name, .. } => {
                let v = self.eval_function(dot, n, NodeRef::Arg(n), name, &[], None)?;
                return self.validate_type(v.v, typ);
            }
            Arg::Chain { node, fields, .. } => {
                let v = self.eval_chain_node(dot, n, node, fields, &[], None)?;
                return self.validate_type(v.v, typ);
            }
            _ => {}
        }
        let typ = match typ {
            Some(t) => t,
            None => return self.eval_empty_interface(dot, n),
        };
        match typ {
            Param::Bool => match n {
                Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
                _ => self.errorf(format!("expected bool; found {}", n)),
            },
            Param::Float64 => match n {
                Arg::Number { num, .. } if num.is_float => Ok(Value::Float(num.float64)),
                _ => self.errorf(format!("expected float; found {}", n)),
            },
            Param::Int => match n {
                Arg::Number { num, .. } if num.is_int => Ok(Value::Int(num.int64)),
                _ => self.errorf(format!("expected integer; found {}", n)),
            },
            Param::String => match n {
                Arg::String { text, .. } => Ok(Value::str(text.as_str())),
                _ => self.errorf(format!("expected string; found {}", n)),
            },
            Param::Any | Param::Raw => self.eval_empty_interface(dot, n),
            Param::Map | Param::Time => self.errorf(format!(
                "can't handle {} for arg of type {}",
                n,
                typ.go_name()
            )),
        }
    }

    fn eval_empty_interface(&mut self, dot: &Val, n: &'a Arg) -> R<Value> {
        self.at(NodeRef::Arg(n));
        match n {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.v.clone()),
            Arg::Field { ident, .. } => Ok(self.eval_field_node(dot, n, ident, &[], None)?.v),
            Arg::Identifier { name, .. } => Ok(self
                .eval_function(dot, n, NodeRef::Arg(n), name, &[], None)?
                .v),
            Arg::Nil { .. } => self.errorf("evalEmptyInterface: nil (can't happen)".into()),
            Arg::Number { num, .. } => self.ideal_constant(n, num),
            Arg::String { text, .. } => Ok(Value::str(text.as_str())),
            Arg::Variable(v) => Ok(self.eval_variable_node(dot, v, &[], None)?.v),
            Arg::Pipe(p) => self.eval_pipeline(dot, Some(p)),
            _ => self.errorf(format!(
                "can't handle assignment of {} to empty interface argument",
                n
            )),
        }
    }

    fn print_value(&mut self, n: NodeRef<'a>, v: &Value) -> R<()> {
        self.at(n);
        let s = match v {
            Value::Invalid => "<no value>".to_string(),
            other => gofmt::to_string(other),
        };
        self.write(&s)
    }
}
