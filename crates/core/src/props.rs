//! [`Props`]: a resource's properties by name, ordered by name, compact and cheap to clone.
//!
//! A plan of a large stack holds the same properties several times: in the desired graph, resolved
//! in each change, in the prior state and in the change that replaces it. `Props` keeps them small
//! and shares them instead of copying:
//! - the entries are one sorted array, shared between clones (copied only when a clone is changed);
//! - property names are interned: each distinct name is stored once for the life of the process
//!   (names are a schema's small vocabulary), and an entry holds a pointer to it;
//! - large values (maps, lists, long strings, secrets) sit behind their own reference count, so that
//!   props derived from others (references resolved, one property replaced) share them.
//!
//! It offers the methods of the `BTreeMap<String, Value>` it replaces, with the same iteration order.

use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use crate::value::{OutputRef, Value};

/// An interned property name: every `Name` with the same text points at the same `String`.
#[derive(Clone, Copy)]
struct Name(&'static String);

impl Name {
    fn as_str(self) -> &'static str {
        self.0.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// A small, fast hash for the interner: names are short and not chosen by an adversary.
#[derive(Clone, Copy, Default)]
struct NameHash;

struct NameHasher(u64);

impl BuildHasher for NameHash {
    type Hasher = NameHasher;
    fn build_hasher(&self) -> NameHasher {
        NameHasher(0)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn names() -> std::sync::MutexGuard<'static, HashSet<Name, NameHash>> {
    static NAMES: OnceLock<Mutex<HashSet<Name, NameHash>>> = OnceLock::new();
    NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The interned name for `name`; an owned `name` seen for the first time is kept without a copy.
fn intern(name: Cow<'_, str>) -> Name {
    let mut set = names();
    if let Some(n) = set.get(name.as_ref()) {
        return *n;
    }
    let n = Name(Box::leak(Box::new(name.into_owned())));
    set.insert(n);
    n
}

/// A value, inline, or behind a reference count when it is large enough that sharing it between
/// props pays.
#[derive(Clone)]
enum Slot {
    Inline(Value),
    Shared(Arc<Value>),
}

impl Slot {
    fn new(v: Value) -> Slot {
        let large = match &v {
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::String(s) => s.len() >= 64,
            Value::Secret(_) => true,
            _ => false,
        };
        if large {
            Slot::Shared(Arc::new(v))
        } else {
            Slot::Inline(v)
        }
    }

    fn get(&self) -> &Value {
        match self {
            Slot::Inline(v) => v,
            Slot::Shared(v) => v,
        }
    }

    fn get_mut(&mut self) -> &mut Value {
        match self {
            Slot::Inline(v) => v,
            Slot::Shared(v) => Arc::make_mut(v),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Slot::Inline(v) => v,
            Slot::Shared(v) => Arc::unwrap_or_clone(v),
        }
    }
}

#[derive(Clone)]
struct Entry {
    name: Name,
    slot: Slot,
}

static NO_NAME: String = String::new();

impl Entry {
    fn new(name: Name, value: Value) -> Entry {
        Entry {
            name,
            slot: Slot::new(value),
        }
    }

    /// Moves the entry out, leaving a placeholder that owns nothing.
    fn take(&mut self) -> Entry {
        std::mem::replace(
            self,
            Entry {
                name: Name(&NO_NAME),
                slot: Slot::Inline(Value::Null),
            },
        )
    }
}

/// A resource's properties by name, ordered by name, so every rendering is deterministic.
///
/// Cloning is cheap (the entries are shared until one of the clones changes).
#[derive(Clone, Default)]
pub struct Props {
    /// Sorted by name, names unique; `None` when empty.
    entries: Option<Arc<[Entry]>>,
}

impl Props {
    pub const fn new() -> Props {
        Props { entries: None }
    }

    fn slice(&self) -> &[Entry] {
        self.entries.as_deref().unwrap_or(&[])
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.slice().binary_search_by(|e| e.name.as_str().cmp(name))
    }

    fn from_sorted(entries: Vec<Entry>) -> Props {
        Props {
            entries: if entries.is_empty() {
                None
            } else {
                Some(Arc::from(entries))
            },
        }
    }

    /// The entries, no longer shared with any clone.
    fn unique(&mut self) -> &mut [Entry] {
        match &mut self.entries {
            None => &mut [],
            Some(arc) => {
                if Arc::get_mut(arc).is_none() {
                    *arc = arc.iter().cloned().collect();
                }
                Arc::get_mut(arc).expect("just made unique")
            }
        }
    }

    /// The entries, moved out when not shared, cloned otherwise.
    fn take_all(&mut self) -> Vec<Entry> {
        match self.entries.take() {
            None => Vec::new(),
            Some(mut arc) => match Arc::get_mut(&mut arc) {
                Some(entries) => entries.iter_mut().map(Entry::take).collect(),
                None => arc.to_vec(),
            },
        }
    }

    pub fn len(&self) -> usize {
        self.slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_none()
    }

    pub fn get<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> Option<&Value> {
        let i = self.find(name.as_ref()).ok()?;
        Some(self.slice()[i].slot.get())
    }

    pub fn get_key_value<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> Option<(&String, &Value)> {
        let i = self.find(name.as_ref()).ok()?;
        let e = &self.slice()[i];
        Some((e.name.0, e.slot.get()))
    }

    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, name: &Q) -> bool {
        self.find(name.as_ref()).is_ok()
    }

    pub fn get_mut<Q: AsRef<str> + ?Sized>(&mut self, name: &Q) -> Option<&mut Value> {
        let i = self.find(name.as_ref()).ok()?;
        Some(self.unique()[i].slot.get_mut())
    }

    /// Sets `name` to `value`; returns the value it replaces.
    pub fn insert(&mut self, name: String, value: Value) -> Option<Value> {
        match self.find(&name) {
            Ok(i) => {
                let slot = &mut self.unique()[i].slot;
                Some(std::mem::replace(slot, Slot::new(value)).into_value())
            }
            Err(i) => {
                self.insert_at(i, Entry::new(intern(name.into()), value));
                None
            }
        }
    }

    fn insert_at(&mut self, i: usize, entry: Entry) {
        let grown: Arc<[Entry]> = match self.entries.take() {
            None => Arc::from([entry]),
            Some(mut arc) => match Arc::get_mut(&mut arc) {
                Some(entries) => {
                    let (head, tail) = entries.split_at_mut(i);
                    head.iter_mut()
                        .map(Entry::take)
                        .chain(std::iter::once(entry))
                        .chain(tail.iter_mut().map(Entry::take))
                        .collect()
                }
                None => {
                    let (head, tail) = arc.split_at(i);
                    head.iter()
                        .cloned()
                        .chain(std::iter::once(entry))
                        .chain(tail.iter().cloned())
                        .collect()
                }
            },
        };
        self.entries = Some(grown);
    }

    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, name: &Q) -> Option<Value> {
        let i = self.find(name.as_ref()).ok()?;
        let mut entries = self.take_all();
        let removed = entries.remove(i);
        *self = Props::from_sorted(entries);
        Some(removed.slot.into_value())
    }

    /// Keeps the properties for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        let mut entries = self.take_all();
        entries.retain_mut(|e| keep(e.name.0, e.slot.get_mut()));
        *self = Props::from_sorted(entries);
    }

    pub fn clear(&mut self) {
        self.entries = None;
    }

    /// The entry for `name`, to read, insert or change in place.
    pub fn entry(&mut self, name: String) -> PropEntry<'_> {
        PropEntry { props: self, name }
    }

    pub fn first_key_value(&self) -> Option<(&String, &Value)> {
        self.slice().first().map(|e| (e.name.0, e.slot.get()))
    }

    pub fn last_key_value(&self) -> Option<(&String, &Value)> {
        self.slice().last().map(|e| (e.name.0, e.slot.get()))
    }

    /// Properties and values, in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.slice().iter(),
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.slice().iter().map(|e| e.name.0)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + Clone {
        self.slice().iter().map(|e| e.slot.get())
    }

    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&String, &mut Value)> + ExactSizeIterator {
        self.unique()
            .iter_mut()
            .map(|e| (e.name.0, e.slot.get_mut()))
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.unique().iter_mut().map(|e| e.slot.get_mut())
    }

    /// [`Value::resolve_known`] on every value. Values without references are shared with `self`,
    /// and so is everything when no reference resolves.
    pub fn resolve_known(&self, lookup: &dyn Fn(&OutputRef) -> Option<Value>) -> Props {
        self.map_refs(|v| v.resolve_known(lookup))
    }

    /// [`Value::resolve`] on every value. Values without references are shared with `self`.
    pub fn resolve(&self, lookup: &dyn Fn(&OutputRef) -> Option<Value>) -> Props {
        self.map_refs(|v| v.resolve(lookup))
    }

    fn map_refs(&self, f: impl Fn(&Value) -> Value) -> Props {
        let mut changed: Vec<(usize, Value)> = Vec::new();
        for (i, e) in self.slice().iter().enumerate() {
            let v = e.slot.get();
            if v.has_refs() {
                let new = f(v);
                if new != *v {
                    changed.push((i, new));
                }
            }
        }
        if changed.is_empty() {
            return self.clone();
        }
        let mut changed = changed.into_iter().peekable();
        let entries: Arc<[Entry]> = self
            .slice()
            .iter()
            .enumerate()
            .map(|(i, e)| match changed.next_if(|(j, _)| *j == i) {
                Some((_, v)) => Entry::new(e.name, v),
                None => e.clone(),
            })
            .collect();
        Props {
            entries: Some(entries),
        }
    }
}

/// A property of [`Props::entry`].
pub struct PropEntry<'a> {
    props: &'a mut Props,
    name: String,
}

impl<'a> PropEntry<'a> {
    pub fn key(&self) -> &String {
        &self.name
    }

    pub fn or_insert_with(self, make: impl FnOnce() -> Value) -> &'a mut Value {
        let i = match self.props.find(&self.name) {
            Ok(i) => i,
            Err(i) => {
                self.props
                    .insert_at(i, Entry::new(intern(self.name.into()), make()));
                i
            }
        };
        self.props.unique()[i].slot.get_mut()
    }

    pub fn or_insert(self, value: Value) -> &'a mut Value {
        self.or_insert_with(|| value)
    }

    pub fn or_default(self) -> &'a mut Value {
        self.or_insert_with(|| Value::Null)
    }

    pub fn and_modify(self, f: impl FnOnce(&mut Value)) -> PropEntry<'a> {
        if let Some(v) = self.props.get_mut(&self.name) {
            f(v);
        }
        self
    }
}

/// The iterator of [`Props::iter`].
#[derive(Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|e| (e.name.0, e.slot.get()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|e| (e.name.0, e.slot.get()))
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl std::iter::FusedIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Props {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The iterator of `Props::into_iter`: owned names and values.
pub struct IntoIter {
    inner: std::vec::IntoIter<Entry>,
}

impl Iterator for IntoIter {
    type Item = (String, Value);

    fn next(&mut self) -> Option<(String, Value)> {
        self.inner
            .next()
            .map(|e| (e.name.0.clone(), e.slot.into_value()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<(String, Value)> {
        self.inner
            .next_back()
            .map(|e| (e.name.0.clone(), e.slot.into_value()))
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Props {
    type Item = (String, Value);
    type IntoIter = IntoIter;

    fn into_iter(mut self) -> IntoIter {
        IntoIter {
            inner: self.take_all().into_iter(),
        }
    }
}

/// Sorts by name; of two values for one name the later wins, as for repeated inserts.
fn collect_entries(mut entries: Vec<Entry>) -> Props {
    if !entries.is_sorted_by(|a, b| a.name.as_str() < b.name.as_str()) {
        entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        entries.dedup_by(|later, kept| {
            if later.name == kept.name {
                std::mem::swap(&mut later.slot, &mut kept.slot);
                true
            } else {
                false
            }
        });
    }
    Props::from_sorted(entries)
}

impl FromIterator<(String, Value)> for Props {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Props {
        collect_entries(
            iter.into_iter()
                .map(|(k, v)| Entry::new(intern(k.into()), v))
                .collect(),
        )
    }
}

impl<'a> FromIterator<(&'a str, Value)> for Props {
    fn from_iter<I: IntoIterator<Item = (&'a str, Value)>>(iter: I) -> Props {
        collect_entries(
            iter.into_iter()
                .map(|(k, v)| Entry::new(intern(k.into()), v))
                .collect(),
        )
    }
}

impl Extend<(String, Value)> for Props {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        let mut entries = self.take_all();
        entries.extend(
            iter.into_iter()
                .map(|(k, v)| Entry::new(intern(k.into()), v)),
        );
        *self = collect_entries(entries);
    }
}

impl<const N: usize> From<[(String, Value); N]> for Props {
    fn from(pairs: [(String, Value); N]) -> Props {
        pairs.into_iter().collect()
    }
}

impl From<BTreeMap<String, Value>> for Props {
    fn from(map: BTreeMap<String, Value>) -> Props {
        map.into_iter().collect()
    }
}

impl From<&BTreeMap<String, Value>> for Props {
    fn from(map: &BTreeMap<String, Value>) -> Props {
        Props::from_sorted(
            map.iter()
                .map(|(k, v)| Entry::new(intern(k.into()), v.clone()))
                .collect(),
        )
    }
}

impl From<Props> for BTreeMap<String, Value> {
    fn from(props: Props) -> BTreeMap<String, Value> {
        props.into_iter().collect()
    }
}

impl<Q: AsRef<str> + ?Sized> std::ops::Index<&Q> for Props {
    type Output = Value;

    fn index(&self, name: &Q) -> &Value {
        self.get(name).expect("no property of that name")
    }
}

impl PartialEq for Props {
    fn eq(&self, other: &Props) -> bool {
        match (&self.entries, &other.entries) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            _ => {
                self.len() == other.len()
                    && self
                        .slice()
                        .iter()
                        .zip(other.slice())
                        .all(|(a, b)| a.name == b.name && a.slot.get() == b.slot.get())
            }
        }
    }
}

impl fmt::Debug for Props {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, i64)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect()
    }

    #[test]
    fn behaves_like_an_ordered_map() {
        let mut p = Props::new();
        assert!(p.is_empty());
        assert_eq!(p.insert("b".into(), Value::from(2)), None);
        assert_eq!(p.insert("a".into(), Value::from(1)), None);
        assert_eq!(p.insert("c".into(), Value::from(3)), None);
        assert_eq!(p.insert("b".into(), Value::from(20)), Some(Value::from(2)));
        let keys: Vec<&String> = p.keys().collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(p.get("b"), Some(&Value::from(20)));
        assert_eq!(p.get(&"b".to_string()), Some(&Value::from(20)));
        assert_eq!(p["c"], Value::from(3));
        assert_eq!(p.remove("a"), Some(Value::from(1)));
        assert_eq!(p.remove("a"), None);
        assert_eq!(p.len(), 2);
        *p.get_mut("c").unwrap() = Value::from(30);
        p.entry("d".into()).or_insert_with(|| Value::from(4));
        p.entry("d".into()).or_insert_with(|| Value::from(40));
        assert_eq!(p, props(&[("b", 20), ("c", 30), ("d", 4)]));
        p.retain(|k, _| k != "c");
        assert_eq!(p, props(&[("b", 20), ("d", 4)]));
        let back: BTreeMap<String, Value> = p.clone().into();
        assert_eq!(Props::from(back), p);
        assert_eq!(format!("{p:?}"), r#"{"b": Int(20), "d": Int(4)}"#);
    }

    #[test]
    fn collecting_sorts_and_the_last_value_wins() {
        let p = props(&[("z", 1), ("a", 2), ("z", 3), ("m", 4), ("a", 5)]);
        let pairs: Vec<(String, Value)> = p.into_iter().collect();
        assert_eq!(
            pairs,
            [
                ("a".to_string(), Value::from(5)),
                ("m".to_string(), Value::from(4)),
                ("z".to_string(), Value::from(3)),
            ]
        );
    }

    #[test]
    fn clones_share_until_changed() {
        let mut a = Props::new();
        a.insert(
            "tags".into(),
            crate::value::map([("env", Value::str("dev"))]),
        );
        a.insert("size".into(), Value::from(1));
        let b = a.clone();
        a.insert("size".into(), Value::from(2));
        a.get_mut("tags")
            .and_then(|v| match v {
                Value::Map(m) => m.insert("env".into(), Value::str("prod")),
                _ => None,
            })
            .unwrap();
        assert_eq!(b.get("size"), Some(&Value::from(1)));
        assert_eq!(b["tags"].as_map().unwrap()["env"], Value::str("dev"));
        assert_eq!(a["tags"].as_map().unwrap()["env"], Value::str("prod"));
    }

    #[test]
    fn resolving_shares_what_has_no_reference() {
        let addr: crate::ResourceAddr = "us-east-1/s3:Bucket/a".parse().unwrap();
        let mut p = Props::new();
        p.insert("r".into(), Value::reference(addr.clone(), "arn"));
        p.insert("tags".into(), crate::value::map([("k", Value::str("v"))]));
        let none = p.resolve_known(&|_| None);
        assert_eq!(none, p);
        let some = p.resolve_known(&|r| Some(Value::str(format!("{}#{}", r.addr, r.output))));
        assert_eq!(some["r"], Value::str("us-east-1/s3:Bucket/a#arn"));
        assert_eq!(some["tags"], p["tags"]);
        let unknown = p.resolve(&|_| None);
        assert_eq!(unknown["r"], Value::Unknown);
    }

    #[test]
    fn lookups_by_name() {
        let p = props(&[("b", 2), ("a", 1), ("c", 3)]);
        assert!(p.contains_key("a") && !p.contains_key("d"));
        let (k, v) = p.get_key_value("b").unwrap();
        assert_eq!((k.as_str(), v), ("b", &Value::from(2)));
        assert_eq!(p.get_key_value("d"), None);
        assert_eq!(p.get("d"), None);
        let first = p.first_key_value().map(|(k, v)| (k.as_str(), v.clone()));
        let last = p.last_key_value().map(|(k, v)| (k.as_str(), v.clone()));
        assert_eq!(first, Some(("a", Value::from(1))));
        assert_eq!(last, Some(("c", Value::from(3))));
        assert_eq!(Props::new().first_key_value(), None);
        assert_eq!(Props::new().last_key_value(), None);
        let values: Vec<&Value> = p.values().collect();
        assert_eq!(values, [&Value::from(1), &Value::from(2), &Value::from(3)]);
        let backwards: Vec<&str> = p.iter().rev().map(|(k, _)| k.as_str()).collect();
        assert_eq!(backwards, ["c", "b", "a"]);
        assert_eq!(p.iter().len(), 3);
        let owned_backwards: Vec<String> = p.clone().into_iter().rev().map(|(k, _)| k).collect();
        assert_eq!(owned_backwards, ["c", "b", "a"]);
    }

    #[test]
    #[should_panic(expected = "no property of that name")]
    fn indexing_a_missing_name_panics() {
        let _ = &props(&[("a", 1)])["b"];
    }

    #[test]
    fn entries_insert_once_and_modify_in_place() {
        let mut p = Props::new();
        let e = p.entry("n".into());
        assert_eq!(e.key(), "n");
        assert_eq!(*e.or_default(), Value::Null);
        *p.entry("n".into()).or_insert(Value::from(1)) = Value::from(5);
        assert_eq!(p["n"], Value::from(5));
        p.entry("n".into())
            .and_modify(|v| *v = Value::from(6))
            .or_insert(Value::from(7));
        p.entry("m".into())
            .and_modify(|v| *v = Value::from(8))
            .or_insert(Value::from(9));
        assert_eq!(p, props(&[("m", 9), ("n", 6)]));
    }

    #[test]
    fn changes_through_a_clone_never_reach_the_original() {
        let original = props(&[("a", 1), ("b", 2), ("c", 3)]);
        let mut p = original.clone();
        p.insert("aa".into(), Value::from(10));
        let mut q = original.clone();
        assert_eq!(q.remove("b"), Some(Value::from(2)));
        let mut r = original.clone();
        r.retain(|k, v| {
            *v = Value::from(0);
            k != "a"
        });
        let mut s = original.clone();
        s.iter_mut().for_each(|(_, v)| *v = Value::Null);
        let mut t = original.clone();
        t.values_mut().for_each(|v| *v = Value::Bool(true));
        let mut u = original.clone();
        u.extend([("a".to_string(), Value::from(100))]);
        let mut w = original.clone();
        w.clear();
        assert_eq!(original, props(&[("a", 1), ("b", 2), ("c", 3)]));
        assert_eq!(p, props(&[("a", 1), ("aa", 10), ("b", 2), ("c", 3)]));
        assert_eq!(q, props(&[("a", 1), ("c", 3)]));
        assert_eq!(r, props(&[("b", 0), ("c", 0)]));
        assert!(s.values().all(|v| *v == Value::Null) && s.len() == 3);
        assert!(t.values().all(|v| *v == Value::Bool(true)) && t.len() == 3);
        assert_eq!(u, props(&[("a", 100), ("b", 2), ("c", 3)]));
        assert!(w.is_empty() && w.iter().len() == 0 && w.first_key_value().is_none());
        // Emptied by removals, props are empty like new ones, and equal to them.
        let mut gone = props(&[("a", 1)]);
        gone.remove("a");
        assert!(gone.is_empty());
        assert_eq!(gone, Props::new());
        gone.retain(|_, _| true);
        assert!(gone.is_empty());
    }

    #[test]
    fn every_way_of_building_gives_the_same_props() {
        let expected = props(&[("a", 1), ("b", 2)]);
        let map: BTreeMap<String, Value> = [
            ("b".to_string(), Value::from(2)),
            ("a".to_string(), Value::from(1)),
        ]
        .into();
        assert_eq!(Props::from(&map), expected);
        assert_eq!(Props::from(map.clone()), expected);
        assert_eq!(BTreeMap::from(expected.clone()), map);
        assert_eq!(
            Props::from([
                ("b".to_string(), Value::from(2)),
                ("a".to_string(), Value::from(1)),
            ]),
            expected
        );
        let by_str: Props = [("b", Value::from(2)), ("a", Value::from(1))]
            .into_iter()
            .collect();
        assert_eq!(by_str, expected);
        let mut extended = props(&[("b", 0)]);
        extended.extend([
            ("a".to_string(), Value::from(1)),
            ("b".to_string(), Value::from(2)),
        ]);
        assert_eq!(extended, expected);
    }

    #[test]
    fn equality_is_by_names_and_values() {
        let a = props(&[("a", 1), ("b", 2)]);
        assert_eq!(a, a.clone());
        assert_eq!(a, props(&[("b", 2), ("a", 1)]));
        assert_ne!(a, props(&[("a", 1), ("b", 3)]));
        assert_ne!(a, props(&[("a", 1), ("c", 2)]));
        assert_ne!(a, props(&[("a", 1)]));
        assert_ne!(a, Props::new());
        // A large value held behind its own count compares by content.
        let long = Value::str("x".repeat(100));
        let mut b = Props::new();
        b.insert("s".into(), long.clone());
        let mut c = Props::new();
        c.insert("s".into(), long);
        assert_eq!(b, c);
    }

    #[test]
    fn json_round_trip_keeps_names_values_and_order() {
        let addr: crate::ResourceAddr = "us-east-1/s3:Bucket/a".parse().unwrap();
        let mut p = Props::new();
        p.insert("z".into(), Value::from(1));
        p.insert("a".into(), Value::str("y".repeat(80)));
        p.insert("m".into(), crate::value::map([("k", Value::Float(0.5))]));
        p.insert("r".into(), Value::reference(addr, "arn"));
        p.insert("u".into(), Value::Unknown);
        p.insert("l".into(), Value::from(vec![1, 2]));
        p.insert("n".into(), Value::Null);
        let json = crate::value::props_to_json(&p);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "l", "m", "n", "r", "u", "z"]);
        assert_eq!(crate::value::props_from_json(&json).unwrap(), p);
        assert_eq!(
            crate::value::props_from_json(&serde_json::Value::Null).unwrap(),
            Props::new()
        );
        assert!(crate::value::props_from_json(&serde_json::json!([1])).is_err());
    }

    /// The pointer of the value `name` holds behind its own count.
    fn shared(p: &Props, name: &str) -> *const Value {
        match &p.slice()[p.find(name).unwrap()].slot {
            Slot::Shared(v) => Arc::as_ptr(v),
            Slot::Inline(_) => panic!("{name} is inline"),
        }
    }

    #[test]
    fn clones_and_derived_props_share_rather_than_copy() {
        let addr: crate::ResourceAddr = "us-east-1/s3:Bucket/a".parse().unwrap();
        let mut p = Props::new();
        p.insert("r".into(), Value::reference(addr, "arn"));
        p.insert("tags".into(), crate::value::map([("k", Value::str("v"))]));
        p.insert("n".into(), Value::from(1));
        let clone = p.clone();
        assert!(Arc::ptr_eq(
            clone.entries.as_ref().unwrap(),
            p.entries.as_ref().unwrap()
        ));
        let unresolved = p.resolve_known(&|_| None);
        assert!(Arc::ptr_eq(
            unresolved.entries.as_ref().unwrap(),
            p.entries.as_ref().unwrap()
        ));
        let resolved = p.resolve(&|_| Some(Value::str("arn:x")));
        assert_eq!(shared(&resolved, "tags"), shared(&p, "tags"));
        let mut changed = p.clone();
        changed.insert("n".into(), Value::from(2));
        assert_eq!(shared(&changed, "tags"), shared(&p, "tags"));
        assert_eq!(p["n"], Value::from(1));
        // One name, one string, whichever way it came.
        let (a, b) = (intern("tags".into()), intern(String::from("tags").into()));
        assert!(std::ptr::eq(a.0, b.0));
        assert!(std::ptr::eq(a.0, p.slice()[p.find("tags").unwrap()].name.0));
    }

    #[test]
    fn entries_are_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        assert_eq!(std::mem::size_of::<Props>(), 16);
        assert_eq!(std::mem::size_of::<crate::ResourceAddr>(), 16);
    }
}
