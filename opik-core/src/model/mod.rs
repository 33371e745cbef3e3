//! The data the SDK records, with no runtime: ids, timestamps, records and their wire form,
//! token usage, feedback scores, the changes an update makes, and Opik's rules for tags.
//!
//! Owns: every value type that crosses a layer (a record is built by `span`/`recorder`, queued
//! by `pipe`, encoded by `export`). May import nothing else of this crate: everything above
//! depends on it, so it depends on nothing.

mod attachment;
mod charge;
mod clock;
mod depth;
mod guard;
mod id;
mod json;
mod payload;
mod project;
mod record;
mod score;
mod tags;
mod update;
mod usage;
pub(crate) mod wire;

pub(crate) use attachment::Tally;
pub use attachment::{Attachment, AttachmentData, AttachmentError, AttachmentRecord, Entity};
pub(crate) use charge::ByteCharge;
pub use clock::anchor;
pub use clock::Timestamp;
pub(crate) use depth::Limited;
pub(crate) use guard::{guarded, panic_message};
pub use id::new_id;
pub(crate) use json::to_value;
pub(crate) use payload::serialization_failed;
pub use payload::Payload;
pub use project::ProjectName;
pub use record::{
    ErrorInfo, FeedbackScore, Record, RecordBase, RecordKind, ScoreTarget, SpanDetails, SpanRecord,
    SpanType, TraceDetails, TraceRecord, TraceSource,
};
pub use score::{Score, ScoreError, MAX_SCORE_MAGNITUDE};
pub use tags::{check_tag, check_tag_at, tag_problem, Tags, MAX_TAGS, MAX_TAG_CHARS};
pub use update::{Merge, ScoreOptions, SpanUpdate, TraceUpdate};
pub(crate) use update::{Patch, Stored};
pub use usage::Usage;
