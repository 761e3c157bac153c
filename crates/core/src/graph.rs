//! The resource graph: declared resources and the dependencies between them.

use std::collections::{BTreeSet, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::addr::ResourceAddr;
use crate::error::GraphError;
use crate::resource::ResourceDecl;

/// A validated set of resources: unique addresses, every reference resolvable, no cycle.
///
/// Edges run from a dependency to its dependent. `petgraph` indices never leave this type.
#[derive(Clone, Debug)]
pub struct ResourceGraph {
    graph: DiGraph<ResourceDecl, ()>,
    index: HashMap<ResourceAddr, NodeIndex>,
    /// Topological order, ties broken by address: deterministic.
    order: Vec<NodeIndex>,
}

impl ResourceGraph {
    /// Builds the graph, or names the first problem found: a duplicate address, a reference to an
    /// undeclared resource, or a cycle (with its members).
    pub fn new(decls: Vec<ResourceDecl>) -> Result<ResourceGraph, GraphError> {
        let mut graph = DiGraph::with_capacity(decls.len(), decls.len() * 2);
        let mut index = HashMap::with_capacity(decls.len());
        for decl in decls {
            let addr = decl.addr.clone();
            if index.contains_key(&addr) {
                return Err(GraphError::DuplicateAddress(addr));
            }
            let ix = graph.add_node(decl);
            index.insert(addr, ix);
        }
        let mut edges = Vec::new();
        for ix in graph.node_indices() {
            let decl = &graph[ix];
            for dep in decl.dependencies() {
                let Some(&dep_ix) = index.get(&dep) else {
                    return Err(GraphError::UnknownReference {
                        from: decl.addr.clone(),
                        to: dep,
                    });
                };
                edges.push((dep_ix, ix));
            }
        }
        for (a, b) in edges {
            graph.add_edge(a, b, ());
        }
        let order = topo_order(&graph)?;
        Ok(ResourceGraph {
            graph,
            index,
            order,
        })
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn get(&self, addr: &ResourceAddr) -> Option<&ResourceDecl> {
        self.index.get(addr).map(|&ix| &self.graph[ix])
    }

    pub fn contains(&self, addr: &ResourceAddr) -> bool {
        self.index.contains_key(addr)
    }

    /// Resources in dependency order (dependencies first), ties broken by address.
    pub fn in_order(&self) -> impl Iterator<Item = &ResourceDecl> {
        self.order.iter().map(|&ix| &self.graph[ix])
    }

    /// The direct dependencies of `addr`, sorted.
    pub fn dependencies(&self, addr: &ResourceAddr) -> Vec<&ResourceAddr> {
        self.neighbors(addr, petgraph::Direction::Incoming)
    }

    /// The direct dependents of `addr`, sorted.
    pub fn dependents(&self, addr: &ResourceAddr) -> Vec<&ResourceAddr> {
        self.neighbors(addr, petgraph::Direction::Outgoing)
    }

    fn neighbors(&self, addr: &ResourceAddr, dir: petgraph::Direction) -> Vec<&ResourceAddr> {
        let Some(&ix) = self.index.get(addr) else {
            return Vec::new();
        };
        let mut out: Vec<&ResourceAddr> = self
            .graph
            .neighbors_directed(ix, dir)
            .map(|n| &self.graph[n].addr)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Takes the declarations back out, in dependency order, for a transform to rebuild from.
    pub fn into_decls(self) -> Vec<ResourceDecl> {
        let (nodes, _) = self.graph.into_nodes_edges();
        let mut slots: Vec<Option<ResourceDecl>> =
            nodes.into_iter().map(|n| Some(n.weight)).collect();
        self.order
            .iter()
            .map(|ix| {
                slots[ix.index()]
                    .take()
                    .expect("each node appears once in the order")
            })
            .collect()
    }
}

/// Kahn's algorithm with an ordered ready set, so the order depends only on the graph.
fn topo_order(graph: &DiGraph<ResourceDecl, ()>) -> Result<Vec<NodeIndex>, GraphError> {
    let n = graph.node_count();
    let mut indegree = vec![0usize; n];
    for e in graph.raw_edges() {
        indegree[e.target().index()] += 1;
    }
    let mut ready: BTreeSet<(&ResourceAddr, NodeIndex)> = graph
        .node_indices()
        .filter(|ix| indegree[ix.index()] == 0)
        .map(|ix| (&graph[ix].addr, ix))
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some((_, ix)) = ready.pop_first() {
        order.push(ix);
        for next in graph.neighbors_directed(ix, petgraph::Direction::Outgoing) {
            let d = &mut indegree[next.index()];
            *d -= 1;
            if *d == 0 {
                ready.insert((&graph[next].addr, next));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(GraphError::Cycle(find_cycle(graph)))
}

/// The members of one cycle, in cycle order, starting from the smallest address.
fn find_cycle(graph: &DiGraph<ResourceDecl, ()>) -> Vec<ResourceAddr> {
    let mut sccs: Vec<Vec<NodeIndex>> = petgraph::algo::tarjan_scc(graph)
        .into_iter()
        .filter(|c| c.len() > 1 || graph.contains_edge(c[0], c[0]))
        .collect();
    for c in &mut sccs {
        c.sort_by(|a, b| graph[*a].addr.cmp(&graph[*b].addr));
    }
    sccs.sort_by(|a, b| graph[a[0]].addr.cmp(&graph[b[0]].addr));
    let Some(scc) = sccs.first() else {
        return Vec::new();
    };
    let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
    // Walk from the smallest member, always to the smallest successor inside the component,
    // until a node repeats: the repeated stretch is a cycle.
    let start = scc[0];
    let mut path = vec![start];
    let mut cur = start;
    loop {
        let mut succ: Vec<NodeIndex> = graph
            .neighbors_directed(cur, petgraph::Direction::Outgoing)
            .filter(|n| members.contains(n))
            .collect();
        succ.sort_by(|a, b| graph[*a].addr.cmp(&graph[*b].addr));
        let next = succ[0];
        if let Some(pos) = path.iter().position(|&p| p == next) {
            return path[pos..]
                .iter()
                .map(|&ix| graph[ix].addr.clone())
                .collect();
        }
        path.push(next);
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn addr(s: &str) -> ResourceAddr {
        s.parse().unwrap()
    }

    fn decl(a: &str, refs: &[&str]) -> ResourceDecl {
        let mut d = ResourceDecl::new(addr(a));
        for (i, r) in refs.iter().enumerate() {
            d = d.input(&format!("in{i}"), Value::reference(addr(r), "id"));
        }
        d
    }

    #[test]
    fn references_make_edges_and_order_is_deterministic() {
        let g = ResourceGraph::new(vec![
            decl("us-east-1/x:C/c", &["us-east-1/x:B/b", "us-east-1/x:A/a"]),
            decl("us-east-1/x:B/b", &["us-east-1/x:A/a"]),
            decl("us-east-1/x:A/a", &[]),
            decl("global/x:Z/z", &[]),
        ])
        .unwrap();
        let order: Vec<String> = g.in_order().map(|d| d.addr.to_string()).collect();
        assert_eq!(
            order,
            [
                "global/x:Z/z",
                "us-east-1/x:A/a",
                "us-east-1/x:B/b",
                "us-east-1/x:C/c"
            ]
        );
        assert_eq!(g.dependents(&addr("us-east-1/x:A/a")).len(), 2);
        assert_eq!(g.dependencies(&addr("us-east-1/x:C/c")).len(), 2);
    }

    #[test]
    fn a_cycle_names_its_members() {
        let err = ResourceGraph::new(vec![
            decl("us-east-1/x:A/a", &["us-east-1/x:C/c"]),
            decl("us-east-1/x:B/b", &["us-east-1/x:A/a"]),
            decl("us-east-1/x:C/c", &["us-east-1/x:B/b"]),
            decl("us-east-1/x:D/d", &[]),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dependency cycle: us-east-1/x:A/a -> us-east-1/x:B/b -> us-east-1/x:C/c -> us-east-1/x:A/a"
        );
    }

    #[test]
    fn duplicates_and_unknown_references_are_errors() {
        let dup = ResourceGraph::new(vec![decl("global/x:A/a", &[]), decl("global/x:A/a", &[])]);
        assert_eq!(
            dup.unwrap_err().to_string(),
            "resource global/x:A/a is declared twice"
        );
        let unknown = ResourceGraph::new(vec![decl("global/x:A/a", &["global/x:B/b"])]);
        assert_eq!(
            unknown.unwrap_err().to_string(),
            "resource global/x:A/a refers to global/x:B/b, which is not declared"
        );
    }
}
