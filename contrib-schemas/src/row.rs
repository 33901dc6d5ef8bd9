//! A row as JSON Schema sees it, without building a `serde_json` object: the typed cells as
//! `(column, value)` pairs borrowed from the schema's column names. Building a B-tree map per
//! row (a node allocation, a key copy and a search per cell) cost more than validating it.
//!
//! `jsonschema` validates any representation that implements its `Json` traits; this one has
//! two kinds of node, the row itself and the `serde_json` values inside it (or a whole
//! `serde_json` document, for fixtures and other callers).

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object, SerdeJson};
use serde_json::{Map, Value};

/// The representation: rows of `(column, value)` pairs, or plain `serde_json` values.
pub struct RowJson;

#[derive(Clone, Copy)]
pub enum RowNode<'a> {
    Row(&'a [(&'a str, Value)]),
    Value(&'a Value),
}

#[derive(Clone, Copy)]
pub enum RowObject<'a> {
    Row(&'a [(&'a str, Value)]),
    Map(&'a Map<String, Value>),
}

impl Json for RowJson {
    type Node<'a> = RowNode<'a>;
    type PreparedKey = String;
    type StringBuffer = Value;

    // A lookup scans a row's few pairs: a pass over the members is never dearer.
    const KEYS_PER_LOOKUP: usize = 64;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Value,
        string: &str,
        f: impl FnOnce(RowNode<'_>) -> T,
    ) -> T {
        *buffer = Value::String(string.to_owned());
        f(RowNode::Value(buffer))
    }
}

fn serde(v: &Value) -> &Value {
    v
}

impl<'a> Node<'a, RowJson> for RowNode<'a> {
    type Object = RowObject<'a>;
    type Array = &'a [Value];
    type Number = &'a serde_json::Number;

    fn as_object(&self) -> Option<RowObject<'a>> {
        match *self {
            RowNode::Row(pairs) => Some(RowObject::Row(pairs)),
            RowNode::Value(Value::Object(map)) => Some(RowObject::Map(map)),
            RowNode::Value(_) => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Value]> {
        match *self {
            RowNode::Value(Value::Array(items)) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match *self {
            RowNode::Value(Value::String(s)) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a serde_json::Number> {
        match *self {
            RowNode::Value(Value::Number(n)) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match *self {
            RowNode::Value(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, RowNode::Value(Value::Null))
    }

    fn json_type(&self) -> JsonType {
        match *self {
            RowNode::Row(_) => JsonType::Object,
            RowNode::Value(v) => <&Value as Node<'a, SerdeJson>>::json_type(&serde(v)),
        }
    }

    fn string_length(&self) -> Option<u64> {
        match *self {
            RowNode::Value(v) => <&Value as Node<'a, SerdeJson>>::string_length(&serde(v)),
            RowNode::Row(_) => None,
        }
    }

    fn equals_value(&self, expected: &Value) -> bool {
        match *self {
            RowNode::Value(v) => <&Value as Node<'a, SerdeJson>>::equals_value(&serde(v), expected),
            RowNode::Row(_) => jsonschema::json::cmp::equal(&self.to_value(), expected),
        }
    }

    // Cold: error messages, `const`/`enum` on whole objects.
    fn to_value(&self) -> Cow<'a, Value> {
        match *self {
            RowNode::Value(v) => Cow::Borrowed(v),
            RowNode::Row(pairs) => Cow::Owned(Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            )),
        }
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(match *self {
            RowNode::Row(pairs) => NodeIdentity::tagged(pairs.as_ptr() as usize, 1),
            RowNode::Value(v) => NodeIdentity::new(std::ptr::from_ref::<Value>(v) as usize),
        })
    }
}

pub enum MembersIter<'a> {
    Row(std::slice::Iter<'a, (&'a str, Value)>),
    Map(serde_json::map::Iter<'a>),
}

impl<'a> Iterator for MembersIter<'a> {
    type Item = (&'a str, RowNode<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MembersIter::Row(it) => it.next().map(|(k, v)| (*k, RowNode::Value(v))),
            MembersIter::Map(it) => it.next().map(|(k, v)| (k.as_str(), RowNode::Value(v))),
        }
    }
}

impl<'a> Object<'a, RowJson> for RowObject<'a> {
    type Node = RowNode<'a>;
    type MemberName = &'a str;
    type MembersIter = MembersIter<'a>;

    fn len(&self) -> usize {
        match self {
            RowObject::Row(pairs) => pairs.len(),
            RowObject::Map(map) => map.len(),
        }
    }

    fn get(&self, key: &String) -> Option<RowNode<'a>> {
        match *self {
            RowObject::Row(pairs) => pairs
                .iter()
                .find(|(k, _)| *k == key.as_str())
                .map(|(_, v)| RowNode::Value(v)),
            RowObject::Map(map) => map.get(key).map(RowNode::Value),
        }
    }

    fn members(&self) -> MembersIter<'a> {
        match *self {
            RowObject::Row(pairs) => MembersIter::Row(pairs.iter()),
            RowObject::Map(map) => MembersIter::Map(map.iter()),
        }
    }
}

pub type ElementsIter<'a> =
    std::iter::Map<std::slice::Iter<'a, Value>, fn(&'a Value) -> RowNode<'a>>;

impl<'a> Array<'a, RowJson> for &'a [Value] {
    type Node = RowNode<'a>;
    type ElementsIter = ElementsIter<'a>;

    fn len(&self) -> usize {
        <[Value]>::len(self)
    }

    fn elements(&self) -> ElementsIter<'a> {
        self.iter()
            .map(RowNode::Value as fn(&'a Value) -> RowNode<'a>)
    }

    fn is_unique(&self) -> bool {
        <&[Value] as Array<'a, SerdeJson>>::is_unique(self)
    }
}

/// Looking a column's value up, in a row or in a `serde_json` object.
pub trait Lookup {
    fn value(&self, column: &str) -> Option<&Value>;
}

impl Lookup for Map<String, Value> {
    fn value(&self, column: &str) -> Option<&Value> {
        self.get(column)
    }
}

impl Lookup for [(&str, Value)] {
    fn value(&self, column: &str) -> Option<&Value> {
        self.iter().find(|(k, _)| *k == column).map(|(_, v)| v)
    }
}
