//! The Opik project a record belongs to.

use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;

/// The name of an Opik project, as every trace, span and score record carries it.
///
/// Always a `&'static str`, so copying one into each record touches no shared memory. A shared
/// `Arc<str>` would: every caller thread bumps its reference count and the exporter thread drops
/// it, which bounces one cache line between cores per span (it showed up as a large part of a
/// nested call's cost in the benches). Names written in the source are static already; names
/// known at run time (the configured project, `Opik::with_project`, `Score::project_name`) are
/// interned: kept once per distinct name for the life of the process. That is bounded by the
/// projects the app writes to, each of which is a project of its own in Opik.
#[derive(Clone, Copy)]
pub struct ProjectName(&'static str);

/// Project names known at run time, kept for the life of the process.
static INTERNED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

impl ProjectName {
    /// A name written in the source.
    pub const fn from_static(name: &'static str) -> Self {
        ProjectName(name)
    }

    /// A name known at run time, interned: kept once per distinct name for the life of the
    /// process (one lock and a lookup; made when a client or a handle is, not per call).
    pub fn intern(name: &str) -> Self {
        let mut set = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&known) = set.get(name) {
            return ProjectName(known);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        set.insert(leaked);
        ProjectName(leaked)
    }

    /// The name.
    #[inline]
    pub const fn as_str(&self) -> &'static str {
        self.0
    }
}

impl Deref for ProjectName {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for ProjectName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ProjectName {}

impl PartialEq<str> for ProjectName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ProjectName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProjectName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_keeps_one_copy_per_name() {
        let a = ProjectName::intern("interning-test");
        let b = ProjectName::intern(&String::from("interning-test"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, ProjectName::from_static("interning-test"));
        assert_eq!(a.to_string(), "interning-test");
        assert_eq!(serde_json::to_string(&a).unwrap(), r#""interning-test""#);
    }
}
