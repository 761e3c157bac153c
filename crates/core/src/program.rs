//! The program API: a stack is Rust code that declares resources and exports outputs, like a
//! Pulumi program. The engine runs it to get the desired graph.

use std::collections::BTreeMap;

use crate::addr::ResourceAddr;
use crate::error::GraphError;
use crate::graph::ResourceGraph;
use crate::resource::ResourceDecl;
use crate::value::Value;

/// What a program declares: resources and stack outputs. Built by [`Program::run`].
#[derive(Debug, Default)]
pub struct StackBuilder {
    decls: Vec<ResourceDecl>,
    outputs: BTreeMap<String, Value>,
}

/// A handle on a declared resource, to refer to its outputs from other resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    addr: ResourceAddr,
}

impl Resource {
    pub fn addr(&self) -> &ResourceAddr {
        &self.addr
    }

    /// A reference to output `name`; using it as an input makes a dependency.
    pub fn output(&self, name: &str) -> Value {
        Value::reference(self.addr.clone(), name)
    }
}

impl StackBuilder {
    pub fn new() -> StackBuilder {
        StackBuilder::default()
    }

    /// Declares a resource (anything that turns into a [`ResourceDecl`], such as a typed builder).
    pub fn declare(&mut self, decl: impl Into<ResourceDecl>) -> Resource {
        let decl = decl.into();
        let addr = decl.addr.clone();
        self.decls.push(decl);
        Resource { addr }
    }

    /// Exports a stack output, shown by `tandem output`.
    pub fn export(&mut self, name: &str, value: impl Into<Value>) {
        self.outputs.insert(name.to_string(), value.into());
    }

    /// Validates the declarations into a graph.
    pub fn finish(self) -> Result<DesiredStack, GraphError> {
        Ok(DesiredStack {
            graph: ResourceGraph::new(self.decls)?,
            outputs: self.outputs,
        })
    }
}

/// The desired state of a stack: its resource graph and its outputs.
#[derive(Clone, Debug)]
pub struct DesiredStack {
    pub graph: ResourceGraph,
    pub outputs: BTreeMap<String, Value>,
}

/// A stack program. `run` must be deterministic: the same configuration declares the same resources.
pub trait Program {
    /// The stack's name, used for state paths and tags.
    fn name(&self) -> &str;
    /// Declares the stack's resources and outputs.
    fn run(&self, stack: &mut StackBuilder) -> Result<(), ProgramError>;
    /// Fingerprint of the program and its configuration, recorded in saved plans.
    fn fingerprint(&self) -> String;
}

/// An error raised by a program while declaring its resources.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{0}")]
pub struct ProgramError(pub String);

/// Runs a program into its desired stack.
pub fn evaluate(program: &dyn Program) -> Result<DesiredStack, EvaluateError> {
    let mut builder = StackBuilder::new();
    program.run(&mut builder).map_err(EvaluateError::Program)?;
    builder.finish().map_err(EvaluateError::Graph)
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EvaluateError {
    #[error("the program failed: {0}")]
    Program(ProgramError),
    #[error(transparent)]
    Graph(GraphError),
}
