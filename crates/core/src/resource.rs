//! A declared resource: its address, its input properties, its dependencies and its options.

use crate::addr::ResourceAddr;
use crate::props::Props;
use crate::value::Value;

/// Lifecycle options, as Pulumi and Terraform users know them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceOptions {
    /// Refuse any plan that would delete or replace this resource.
    pub protect: bool,
    /// Properties whose changes are ignored after creation.
    pub ignore_changes: Vec<String>,
    /// Properties whose changes force a replacement, on top of those the provider names.
    pub replace_on_changes: Vec<String>,
    /// Replace by deleting first, then creating (the default creates the new one first).
    pub delete_before_replace: bool,
    /// On delete, forget the resource but leave it in the cloud.
    pub retain_on_delete: bool,
}

/// One resource as the program declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDecl {
    pub addr: ResourceAddr,
    pub inputs: Props,
    /// Explicit dependencies, on top of those implied by references in `inputs`.
    pub depends_on: Vec<ResourceAddr>,
    pub options: ResourceOptions,
}

impl ResourceDecl {
    pub fn new(addr: ResourceAddr) -> ResourceDecl {
        ResourceDecl {
            addr,
            inputs: Props::new(),
            depends_on: Vec::new(),
            options: ResourceOptions::default(),
        }
    }

    pub fn input(mut self, name: &str, value: impl Into<Value>) -> ResourceDecl {
        self.inputs.insert(name.to_string(), value.into());
        self
    }

    pub fn depends_on(mut self, addr: &ResourceAddr) -> ResourceDecl {
        self.depends_on.push(addr.clone());
        self
    }

    pub fn options(mut self, options: ResourceOptions) -> ResourceDecl {
        self.options = options;
        self
    }

    /// Every resource this one depends on, from references and `depends_on`, sorted and unique.
    pub fn dependencies(&self) -> Vec<ResourceAddr> {
        let mut deps: Vec<ResourceAddr> = self
            .inputs
            .values()
            .flat_map(|v| v.refs())
            .map(|r| r.addr.clone())
            .chain(self.depends_on.iter().cloned())
            .collect();
        deps.sort();
        deps.dedup();
        // Plans keep these lists: no spare capacity.
        deps.shrink_to_fit();
        deps
    }
}
