//! A writer of Ruby's Marshal format (4.8), for the legacy indexes (`specs.4.8.gz` and its
//! kin) and the gemspecs of `quick/Marshal.4.8/`. Gantry only ever writes Marshal, from
//! specifications it checked and stored as JSON; it never reads Marshal from anyone. The
//! writer knows the few shapes RubyGems loads (nil, booleans, integers, UTF-8 strings,
//! symbols, arrays, hashes, plain objects, `marshal_dump` and `_dump` objects) and refuses
//! to grow past a bound.

use std::collections::HashMap;

use super::spec::{Requirement, Spec};

/// Largest document written (the biggest `specs.4.8` of a repository of many gems).
pub const MAX_DOCUMENT: usize = 256 << 20;

/// A Marshal document being written.
pub struct Writer {
    out: Vec<u8>,
    symbols: HashMap<String, usize>,
    overflow: bool,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        Self {
            out: vec![4, 8],
            symbols: HashMap::new(),
            overflow: false,
        }
    }

    /// The document, or `None` if it grew past [`MAX_DOCUMENT`].
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.overflow).then_some(self.out)
    }

    fn raw(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() > MAX_DOCUMENT {
            self.overflow = true;
            return;
        }
        self.out.extend_from_slice(bytes);
    }

    /// Marshal's variable-length integer (`w_long`); Gantry's integers fit 32 bits.
    fn long(&mut self, n: i64) {
        let n = n.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        match n {
            0 => self.raw(&[0]),
            1..=122 => self.raw(&[(n + 5) as u8]),
            -123..=-1 => self.raw(&[((n - 5) & 0xff) as u8]),
            _ => {
                let bytes = n.to_le_bytes();
                let mut len = 4usize;
                let fill = if n < 0 { 0xff } else { 0 };
                while len > 1 && bytes[len - 1] == fill {
                    len -= 1;
                }
                let count = if n < 0 { -(len as i8) } else { len as i8 };
                self.raw(&[count as u8]);
                self.raw(&bytes[..len]);
            }
        }
    }

    fn bytes(&mut self, data: &[u8]) {
        self.long(data.len() as i64);
        self.raw(data);
    }

    pub fn nil(&mut self) {
        self.raw(b"0");
    }

    pub fn bool(&mut self, value: bool) {
        self.raw(if value { b"T" } else { b"F" });
    }

    pub fn int(&mut self, n: i64) {
        self.raw(b"i");
        self.long(n);
    }

    /// A symbol, written once and linked to afterwards, as Ruby writes them.
    pub fn symbol(&mut self, name: &str) {
        if let Some(&index) = self.symbols.get(name) {
            self.raw(b";");
            self.long(index as i64);
            return;
        }
        let index = self.symbols.len();
        self.symbols.insert(name.to_owned(), index);
        self.raw(b":");
        self.bytes(name.as_bytes());
    }

    /// A UTF-8 string (its encoding as the `E` instance variable).
    pub fn string(&mut self, text: &str) {
        self.raw(b"I\"");
        self.bytes(text.as_bytes());
        self.long(1);
        self.symbol("E");
        self.bool(true);
    }

    pub fn opt_string(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.string(text),
            None => self.nil(),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.raw(b"[");
        self.long(len as i64);
    }

    pub fn hash(&mut self, len: usize) {
        self.raw(b"{");
        self.long(len as i64);
    }

    pub fn strings(&mut self, items: &[String]) {
        self.array(items.len());
        for item in items {
            self.string(item);
        }
    }

    /// An object of `class` with `ivars` instance variables (each then written as its
    /// `@name` symbol and value).
    pub fn object(&mut self, class: &str, ivars: usize) {
        self.raw(b"o");
        self.symbol(class);
        self.long(ivars as i64);
    }

    /// An object whose class defines `marshal_dump`: its value follows.
    pub fn user_marshal(&mut self, class: &str) {
        self.raw(b"U");
        self.symbol(class);
    }

    /// An object whose class defines `_dump`, with the string it returned.
    pub fn user_defined(&mut self, class: &str, data: &[u8]) {
        self.raw(b"u");
        self.symbol(class);
        self.bytes(data);
    }

    /// `Gem::Version` (its `marshal_dump` is `[version]`).
    pub fn gem_version(&mut self, version: &str) {
        self.user_marshal("Gem::Version");
        self.array(1);
        self.string(version);
    }

    /// `Gem::Requirement` (its `marshal_dump` is `[[[op, Gem::Version], …]]`).
    pub fn gem_requirement(&mut self, requirement: &Requirement) {
        self.user_marshal("Gem::Requirement");
        self.array(1);
        self.array(requirement.len());
        for (op, version) in requirement {
            self.array(2);
            self.string(op);
            self.gem_version(version);
        }
    }
}

/// A legacy index (`specs.4.8`): `[[name, Gem::Version, platform], …]`.
pub fn spec_tuples<'a>(
    tuples: impl ExactSizeIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Option<Vec<u8>> {
    let mut w = Writer::new();
    w.array(tuples.len());
    for (name, version, platform) in tuples {
        w.array(3);
        w.string(name);
        w.gem_version(version);
        w.string(platform);
    }
    w.finish()
}

/// The fields `Gem::Specification._load` reads, in its order (specification version 4).
fn spec_fields(spec: &Spec) -> Option<Vec<u8>> {
    let mut w = Writer::new();
    w.array(19);
    w.string(&spec.rubygems_version);
    w.int(spec.specification_version);
    w.string(&spec.name);
    w.gem_version(&spec.version);
    // `date=` takes a `YYYY-MM-DD` string; nil stands for today.
    w.opt_string(spec.date.as_deref());
    w.opt_string(spec.summary.as_deref());
    w.gem_requirement(&spec.required_ruby_version);
    w.gem_requirement(&spec.required_rubygems_version);
    w.string(&spec.platform);
    w.array(spec.dependencies.len());
    for dependency in &spec.dependencies {
        w.object("Gem::Dependency", 4);
        w.symbol("@name");
        w.string(&dependency.name);
        w.symbol("@requirement");
        w.gem_requirement(&dependency.requirement);
        w.symbol("@type");
        w.symbol(&dependency.kind);
        w.symbol("@prerelease");
        w.bool(false);
    }
    // The rubyforge project, gone from RubyGems but still a slot.
    w.string("");
    w.strings(&spec.email);
    w.strings(&spec.authors);
    w.opt_string(spec.description.as_deref());
    w.opt_string(spec.homepage.as_deref());
    // has_rdoc.
    w.bool(true);
    w.string(&spec.platform);
    w.strings(&spec.licenses);
    w.hash(spec.metadata.len());
    for (key, value) in &spec.metadata {
        w.string(key);
        w.string(value);
    }
    w.finish()
}

/// `Marshal.dump(spec)` of a `Gem::Specification`: its `_dump` string wrapped.
pub fn gemspec(spec: &Spec) -> Option<Vec<u8>> {
    let fields = spec_fields(spec)?;
    let mut w = Writer::new();
    w.user_defined("Gem::Specification", &fields);
    w.finish()
}
