//! The Opik project a record belongs to.

use serde::{Serialize, Serializer};
use std::cell::RefCell;
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

/// How many interned names each thread remembers (most apps write to one or two projects).
const RECENT_NAMES: usize = 4;

thread_local! {
    static RECENT: RefCell<Recent> = const { RefCell::new(Recent { names: [""; RECENT_NAMES], next: 0 }) };
}

/// A thread's last few interned names, replaced round robin.
struct Recent {
    names: [&'static str; RECENT_NAMES],
    next: usize,
}

impl Recent {
    fn find(&self, name: &str) -> Option<&'static str> {
        // An empty slot is "" and never matches: an empty name is interned once, globally.
        self.names
            .iter()
            .copied()
            .find(|known| !known.is_empty() && *known == name)
    }

    fn remember(&mut self, name: &'static str) {
        self.names[self.next] = name;
        self.next = (self.next + 1) % RECENT_NAMES;
    }
}

impl ProjectName {
    /// A name written in the source.
    pub const fn from_static(name: &'static str) -> Self {
        ProjectName(name)
    }

    /// A name known at run time, interned: kept once per distinct name for the life of the
    /// process. The names a thread used last are looked up first without any lock, so that
    /// code naming a project per call (`Score::project_name`, `Opik::with_project`) does not
    /// serialize its threads on the global set.
    pub fn intern(name: &str) -> Self {
        if let Some(known) = RECENT.with(|recent| recent.borrow().find(name)) {
            return ProjectName(known);
        }
        let interned = Self::intern_global(name);
        RECENT.with(|recent| recent.borrow_mut().remember(interned.0));
        interned
    }

    fn intern_global(name: &str) -> Self {
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
        // From another thread, through the global set: still the one copy.
        let c = std::thread::spawn(|| ProjectName::intern("interning-test").as_str())
            .join()
            .unwrap();
        assert!(std::ptr::eq(a.as_str(), c));
        // More names than a thread remembers: each still interned once.
        let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
        let first: Vec<&str> = names
            .iter()
            .map(|n| ProjectName::intern(n).as_str())
            .collect();
        let again: Vec<&str> = names
            .iter()
            .map(|n| ProjectName::intern(n).as_str())
            .collect();
        assert!(first.iter().zip(&again).all(|(x, y)| std::ptr::eq(*x, *y)));
    }
}
