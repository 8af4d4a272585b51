//! Reading field values from tantivy's columnar (fast-field) data, per segment.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;
use tantivy::columnar::{Column, DynamicColumn, StrColumn};
use tantivy::{DateTime, DocId, SegmentReader};

use crate::field::FieldRef;

/// A value as read in one segment: strings are still dictionary ordinals (resolved once per
/// group at the end of the segment, not once per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPart {
    Null,
    /// Ordinal `ord` in the reader's string column number `col`.
    Str {
        col: u8,
        ord: u64,
    },
    Num(NumKey),
    Bool(bool),
}

/// A number in canonical form, so `5` read from an i64 column and `5.0` from an f64 column
/// of another segment are the same group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumKey {
    I64(i64),
    U64(u64),
    F64(u64),
}

impl NumKey {
    pub fn from_i64(v: i64) -> NumKey {
        NumKey::I64(v)
    }
    pub fn from_u64(v: u64) -> NumKey {
        i64::try_from(v).map_or(NumKey::U64(v), NumKey::I64)
    }
    pub fn from_f64(v: f64) -> NumKey {
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            NumKey::I64(v as i64)
        } else {
            NumKey::F64(v.to_bits())
        }
    }
    pub fn as_f64(self) -> f64 {
        match self {
            NumKey::I64(v) => v as f64,
            NumKey::U64(v) => v as f64,
            NumKey::F64(b) => f64::from_bits(b),
        }
    }
}

/// A value resolved across segments: what a group key or a distinct value is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GVal {
    Num(NumKey),
    Bool(bool),
    Str(String),
    Null,
}

impl GVal {
    fn rank(&self) -> u8 {
        match self {
            GVal::Num(_) => 0,
            GVal::Bool(_) => 1,
            GVal::Str(_) => 2,
            GVal::Null => 3,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            GVal::Null => Value::Null,
            GVal::Bool(b) => Value::Bool(*b),
            GVal::Str(s) => Value::String(s.clone()),
            GVal::Num(NumKey::I64(v)) => Value::from(*v),
            GVal::Num(NumKey::U64(v)) => Value::from(*v),
            GVal::Num(n) => serde_json::Number::from_f64(n.as_f64())
                .map(Value::Number)
                .unwrap_or(Value::Null),
        }
    }
}

impl PartialOrd for GVal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Numbers (numerically) before booleans before strings; nulls last.
impl Ord for GVal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (GVal::Num(a), GVal::Num(b)) => a.as_f64().total_cmp(&b.as_f64()),
            (GVal::Bool(a), GVal::Bool(b)) => a.cmp(b),
            (GVal::Str(a), GVal::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

enum Col {
    Str(StrColumn),
    U64(Column<u64>),
    I64(Column<i64>),
    F64(Column<f64>),
    Bool(Column<bool>),
    Date(Column<DateTime>),
}

/// All the columns one field has in one segment (an attribute path may have several types).
pub struct FieldReader {
    cols: Vec<Col>,
}

impl FieldReader {
    pub fn open(reader: &SegmentReader, field: &FieldRef) -> tantivy::Result<FieldReader> {
        let fast = reader.fast_fields();
        let mut cols = Vec::new();
        match field {
            FieldRef::Message => {}
            FieldRef::Keyword(k) => {
                if let Some(c) = fast.str(k.field_name())? {
                    cols.push(Col::Str(c));
                }
            }
            FieldRef::Severity => cols.push(Col::U64(fast.u64("severity")?)),
            FieldRef::RecordId => cols.push(Col::U64(fast.u64("lsn")?)),
            FieldRef::Time => cols.push(Col::I64(fast.i64("ts")?)),
            FieldRef::Attr { .. } => {
                let name = field.column_name().unwrap_or_default();
                for handle in fast.dynamic_column_handles(&name)? {
                    match handle.open()? {
                        DynamicColumn::Str(c) => cols.push(Col::Str(c)),
                        DynamicColumn::U64(c) => cols.push(Col::U64(c)),
                        DynamicColumn::I64(c) => cols.push(Col::I64(c)),
                        DynamicColumn::F64(c) => cols.push(Col::F64(c)),
                        DynamicColumn::Bool(c) => cols.push(Col::Bool(c)),
                        DynamicColumn::DateTime(c) => cols.push(Col::Date(c)),
                        DynamicColumn::Bytes(_) | DynamicColumn::IpAddr(_) => {}
                    }
                }
            }
        }
        Ok(FieldReader { cols })
    }

    /// Calls `f` with every value of the field in `doc`.
    pub fn for_each(&self, doc: DocId, mut f: impl FnMut(KeyPart)) {
        for (i, col) in self.cols.iter().enumerate() {
            match col {
                Col::Str(c) => {
                    for ord in c.term_ords(doc) {
                        f(KeyPart::Str { col: i as u8, ord })
                    }
                }
                Col::U64(c) => c
                    .values_for_doc(doc)
                    .for_each(|v| f(KeyPart::Num(NumKey::from_u64(v)))),
                Col::I64(c) => c
                    .values_for_doc(doc)
                    .for_each(|v| f(KeyPart::Num(NumKey::from_i64(v)))),
                Col::F64(c) => c
                    .values_for_doc(doc)
                    .for_each(|v| f(KeyPart::Num(NumKey::from_f64(v)))),
                Col::Bool(c) => c.values_for_doc(doc).for_each(|v| f(KeyPart::Bool(v))),
                Col::Date(c) => c
                    .values_for_doc(doc)
                    .for_each(|v| f(KeyPart::Num(NumKey::from_i64(v.into_timestamp_nanos())))),
            }
        }
    }

    /// The field's first value in `doc` (its group key), or `Null`.
    pub fn first(&self, doc: DocId) -> KeyPart {
        for (i, col) in self.cols.iter().enumerate() {
            let v = match col {
                Col::Str(c) => c
                    .term_ords(doc)
                    .next()
                    .map(|ord| KeyPart::Str { col: i as u8, ord }),
                Col::U64(c) => c.first(doc).map(|v| KeyPart::Num(NumKey::from_u64(v))),
                Col::I64(c) => c.first(doc).map(|v| KeyPart::Num(NumKey::from_i64(v))),
                Col::F64(c) => c.first(doc).map(|v| KeyPart::Num(NumKey::from_f64(v))),
                Col::Bool(c) => c.first(doc).map(KeyPart::Bool),
                Col::Date(c) => c
                    .first(doc)
                    .map(|v| KeyPart::Num(NumKey::from_i64(v.into_timestamp_nanos()))),
            };
            if let Some(v) = v {
                return v;
            }
        }
        KeyPart::Null
    }

    /// The ordinal column, when the field is one string column in this segment (the fast path
    /// for grouping by a keyword). Ordinals resolve with [`FieldReader::resolve`] as column 0.
    pub fn single_str_ords(&self) -> Option<Column<u64>> {
        match self.cols.as_slice() {
            [Col::Str(c)] => Some(c.ords().clone()),
            _ => None,
        }
    }

    /// The column of a field that is one i64 column (the timestamp).
    pub fn single_i64(&self) -> Option<Column<i64>> {
        match self.cols.as_slice() {
            [Col::I64(c)] => Some(c.clone()),
            _ => None,
        }
    }

    /// True when the field has no column at all in this segment.
    pub fn is_absent(&self) -> bool {
        self.cols.is_empty()
    }

    /// The i64 value of a single-valued i64 column (the timestamp), if this is one.
    pub fn first_i64(&self, doc: DocId) -> Option<i64> {
        match self.cols.first() {
            Some(Col::I64(c)) => c.first(doc),
            _ => None,
        }
    }

    /// Calls `f` with every numeric value of the field in `doc` (strings and booleans are
    /// not numbers).
    pub fn for_each_number(&self, doc: DocId, mut f: impl FnMut(f64)) {
        self.for_each(doc, |k| {
            if let KeyPart::Num(n) = k {
                f(n.as_f64())
            }
        })
    }

    pub fn has_value(&self, doc: DocId) -> bool {
        self.first(doc) != KeyPart::Null
    }

    /// Resolves a segment value into a global one.
    pub fn resolve(&self, k: KeyPart) -> GVal {
        match k {
            KeyPart::Null => GVal::Null,
            KeyPart::Num(n) => GVal::Num(n),
            KeyPart::Bool(b) => GVal::Bool(b),
            KeyPart::Str { col, ord } => match self.cols.get(col as usize) {
                Some(Col::Str(c)) => {
                    let mut s = String::new();
                    match c.ord_to_str(ord, &mut s) {
                        Ok(true) => GVal::Str(s),
                        _ => GVal::Null,
                    }
                }
                _ => GVal::Null,
            },
        }
    }

    /// Resolves a set of segment values.
    pub fn resolve_all(&self, set: HashSet<KeyPart>) -> HashSet<GVal> {
        set.into_iter().map(|k| self.resolve(k)).collect()
    }
}
