//! Dynamic SQL with numbered placeholders (`$1`, `$2`, …), which both SQLite and PostgreSQL
//! accept through sqlx.

use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, FromRow};

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
    /// Text or NULL.
    OptText(Option<String>),
}

/// Bind values per multi-row statement. Binding is not linear on SQLite: sqlx asks SQLite
/// for each parameter's name, and SQLite finds a name by walking the statement's list of
/// named parameters, so one statement costs the square of its parameter count (a 13,000-value
/// insert spent most of a rescan batch there). A few hundred values a statement keeps that
/// cost small against the rows' own, on both backends.
pub(crate) const MULTI_ROW_BINDS: usize = 400;

/// SQL text plus its bind values, built together so placeholders always line up.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: Value) -> &mut Self {
        self.values.push(value);
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.bind(Value::Int(v))
    }

    pub(crate) fn str(&mut self, v: &str) -> &mut Self {
        self.bind(Value::Text(v.to_owned()))
    }

    pub(crate) fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        self.bind(Value::OptText(v.map(str::to_owned)))
    }

    /// How many values are bound so far (callers split statements below a backend's limit).
    pub(crate) fn bound(&self) -> usize {
        self.values.len()
    }

    /// Appends `(p1, p2, …)` for the given integers.
    pub(crate) fn int_list(&mut self, values: &[i64]) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.int(*v);
        }
        self.text.push(')');
        self
    }

    /// `(s1, s2, …)`, each a bound text value.
    pub(crate) fn str_list(&mut self, values: &[String]) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.str(v);
        }
        self.text.push(')');
        self
    }

    pub(crate) fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as::<_, T>(&self.text);
        for v in &self.values {
            q = match v {
                Value::Int(i) => q.bind(*i),
                Value::Text(s) => q.bind(s.clone()),
                Value::OptText(s) => q.bind(s.clone()),
            };
        }
        q
    }

    pub(crate) fn query(&self) -> sqlx::query::Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query::<Any>(&self.text);
        for v in &self.values {
            q = match v {
                Value::Int(i) => q.bind(*i),
                Value::Text(s) => q.bind(s.clone()),
                Value::OptText(s) => q.bind(s.clone()),
            };
        }
        q
    }
}
