//! Chat prompts: rendering each message's content the way the Python SDK's
//! `ChatPromptTemplate.format` and its part-renderer registry do.
//!
//! Content is either one template string or a list of OpenAI-style parts.
//! Python renders `text` parts and the `url` of `image_url` / `video_url` /
//! `audio_url` parts, drops parts of any other type (and media parts whose
//! rendered URL is empty), and keeps only a fixed set of extra keys per media
//! part. When the caller says a modality is unsupported, the whole message is
//! flattened into one string with `<<<image>>>url<<</image>>>`-style
//! placeholders.

use minijinja::Value;
use serde_json::{Map, Value as Json};

use super::pyrepr::{py_str, py_strip};
use super::{Location, RenderedContent, Renderer, SupportedModalities, TemplateError};

/// How one media part type is rendered: the key of its object, the modality it
/// needs, the extra keys Python carries over, and its placeholder pair.
struct MediaKind {
    part_type: &'static str,
    modality: Modality,
    kept_keys: &'static [&'static str],
    placeholder: (&'static str, &'static str),
}

#[derive(Clone, Copy)]
enum Modality {
    Vision,
    Video,
    Audio,
}

const MEDIA_KINDS: [MediaKind; 3] = [
    MediaKind {
        part_type: "image_url",
        modality: Modality::Vision,
        kept_keys: &["detail"],
        placeholder: ("<<<image>>>", "<<</image>>>"),
    },
    MediaKind {
        part_type: "video_url",
        modality: Modality::Video,
        kept_keys: &["detail", "mime_type", "duration", "format"],
        placeholder: ("<<<video>>>", "<<</video>>>"),
    },
    MediaKind {
        part_type: "audio_url",
        modality: Modality::Audio,
        kept_keys: &["detail", "mime_type", "duration", "format"],
        placeholder: ("<<<audio>>>", "<<</audio>>>"),
    },
];

/// Python truncates a flattened placeholder's URL to 500 characters.
const PLACEHOLDER_VALUE_LIMIT: usize = 500;

fn supports(modalities: &SupportedModalities, modality: Modality) -> bool {
    match modality {
        Modality::Vision => modalities.vision,
        Modality::Video => modalities.video,
        Modality::Audio => modalities.audio,
    }
}

/// Python's `_render_template_string` on a part's value: falsy values become
/// "", a string is rendered, any other value is returned unchanged (Python
/// hits a `TypeError` there and falls back to the raw value).
fn render_value(
    value: Option<&Json>,
    renderer: &mut Renderer,
    location: Location,
) -> Result<Json, TemplateError> {
    match value {
        Some(Json::String(s)) => Ok(Json::String(renderer.render(s, location)?)),
        Some(v) if is_truthy(v) => Ok(v.clone()),
        _ => Ok(Json::String(String::new())),
    }
}

fn is_truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

fn json_str(v: &Json) -> String {
    let mut out = String::new();
    py_str(&Value::from(minijinja::value::Serde(v)), &mut out);
    out
}

/// Python's `str()` of a rendered media part, in the order Python builds its dict: `type`,
/// then the media object with `url` first and the kept keys in their order. (The part itself
/// is a `serde_json::Map`, whose keys are sorted.)
fn media_part_str(part: &Map<String, Json>, kind: &MediaKind) -> String {
    let media = part.get(kind.part_type).and_then(Json::as_object);
    let entries = std::iter::once("url").chain(kind.kept_keys.iter().copied());
    let media: Vec<(&str, Value)> = entries
        .filter_map(|key| {
            let v = media?.get(key)?;
            Some((key, Value::from(minijinja::value::Serde(v))))
        })
        .collect();
    let dict = OrderedMap(vec![
        ("type", Value::from(kind.part_type)),
        (kind.part_type, OrderedMap(media).into_value()),
    ]);
    let mut out = String::new();
    py_str(&dict.into_value(), &mut out);
    out
}

/// Entries that become a minijinja map in their order (minijinja keeps insertion order).
struct OrderedMap<'a>(Vec<(&'a str, Value)>);

impl OrderedMap<'_> {
    fn into_value(self) -> Value {
        Value::from(minijinja::value::Serde(self))
    }
}

impl serde::Serialize for OrderedMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (*k, v)))
    }
}

/// A rendered part, with its media kind (`None` for text).
type RenderedPart = (Map<String, Json>, Option<&'static MediaKind>);

/// Renders one part, or `None` when Python drops it.
fn render_part(
    part: &Json,
    renderer: &mut Renderer,
    location: &Location,
) -> Result<Option<RenderedPart>, TemplateError> {
    let Some(part) = part.as_object() else {
        return Ok(None);
    };
    let part_type = match part.get("type") {
        Some(Json::String(t)) => t.to_lowercase(),
        None => String::new(),
        // Python would raise AttributeError on `.lower()`; the part has no
        // renderer either way, so it is dropped.
        Some(_) => return Ok(None),
    };
    if part_type == "text" {
        let text = render_value(part.get("text"), renderer, location.child("text"))?;
        let mut out = Map::new();
        out.insert("type".into(), Json::String("text".into()));
        out.insert("text".into(), text);
        return Ok(Some((out, None)));
    }
    let Some(kind) = MEDIA_KINDS.iter().find(|k| k.part_type == part_type) else {
        return Ok(None);
    };
    let Some(media) = part.get(kind.part_type).and_then(Json::as_object) else {
        return Ok(None);
    };
    let url = render_value(
        media.get("url"),
        renderer,
        location.child(kind.part_type).child("url"),
    )?;
    if !is_truthy(&url) {
        return Ok(None);
    }
    let mut rendered = Map::new();
    rendered.insert("url".into(), url);
    for key in kind.kept_keys {
        if let Some(v) = media.get(*key) {
            rendered.insert((*key).into(), v.clone());
        }
    }
    let mut out = Map::new();
    out.insert("type".into(), Json::String(kind.part_type.into()));
    out.insert(kind.part_type.into(), Json::Object(rendered));
    Ok(Some((out, Some(kind))))
}

pub(super) fn render_parts(
    parts: &[Json],
    renderer: &mut Renderer,
    modalities: &SupportedModalities,
    location: &Location,
) -> Result<RenderedContent, TemplateError> {
    let mut rendered = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if let Some(p) = render_part(part, renderer, &location.index(i))? {
            rendered.push(p);
        }
    }
    let flatten = rendered
        .iter()
        .any(|(_, kind)| kind.is_some_and(|k| !supports(modalities, k.modality)));
    if !flatten {
        return Ok(RenderedContent::Parts(
            rendered.into_iter().map(|(p, _)| Json::Object(p)).collect(),
        ));
    }
    let mut segments: Vec<String> = Vec::new();
    for (part, kind) in &rendered {
        let segment = match kind {
            None => part.get("text").map(json_str).unwrap_or_default(),
            // A supported media part inside a flattened message is kept as
            // Python's `str(dict)`.
            Some(k) if supports(modalities, k.modality) => media_part_str(part, k),
            Some(k) => {
                let url = part
                    .get(k.part_type)
                    .and_then(|m| m.get("url"))
                    .map(json_str)
                    .unwrap_or_default();
                let value = truncate_chars(py_strip(&url), PLACEHOLDER_VALUE_LIMIT);
                if value.is_empty() {
                    String::new()
                } else {
                    format!("{}{value}{}", k.placeholder.0, k.placeholder.1)
                }
            }
        };
        if !segment.is_empty() {
            segments.push(segment);
        }
    }
    Ok(RenderedContent::Text(segments.join("\n\n")))
}

/// `value[:limit-3] + "..."` when longer than `limit` characters (Python
/// slices by code point).
fn truncate_chars(value: &str, limit: usize) -> String {
    if value.chars().count() <= limit {
        return value.to_owned();
    }
    let mut out: String = value.chars().take(limit - 3).collect();
    out.push_str("...");
    out
}
