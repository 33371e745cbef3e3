//! Parity with the Python SDK: `python_cases.json` holds, per filter string,
//! the `filters` opik==2.2.122 sends (captured from its HTTP request by
//! `reference/gen_filter_cases.py`) or the error it raises.

use serde_json::Value as Json;

use super::fields::{default_operators, fields};
use super::*;

fn entity(name: &str) -> Entity {
    match name {
        "traces" => Entity::Traces,
        "spans" => Entity::Spans,
        "threads" => Entity::Threads,
        "dataset_items" => Entity::DatasetItems,
        "prompt_versions" => Entity::PromptVersions,
        other => panic!("unknown entity {other}"),
    }
}

/// Filters Python accepts and we reject on purpose (see `mod.rs`).
const WE_REJECT: &[(&str, &str)] = &[
    ("traces", "nmae = \"x\""),
    ("traces", "unknown_field = \"x\""),
    ("traces", "= \"x\""),
    ("traces", "metadata. = \"x\""),
    ("traces", "environment in (\"a,b\", \"c\")"),
    ("spans", "modle = \"x\""),
    ("spans", "thread_id = \"t\""),
    ("threads", "name = \"x\""),
];

/// Filters Python rejects and we accept on purpose.
const WE_ACCEPT: &[(&str, &str)] = &[("traces", "name !=\"x\"")];

/// A filter as the Python SDK sends it: the spec's four fields and its `type`.
fn python_shape(filter: &Filter) -> Json {
    let mut shape = serde_json::to_value(filter).unwrap();
    shape["type"] = serde_json::to_value(filter.field_type).unwrap();
    shape
}

#[test]
fn matches_python_outputs() {
    let cases: Vec<Json> = serde_json::from_str(include_str!("python_cases.json")).unwrap();
    assert!(cases.len() > 100);
    let mut failures = Vec::new();
    for case in &cases {
        let (entity_name, filter) = (
            case["entity"].as_str().unwrap(),
            case["filter"].as_str().unwrap(),
        );
        let ours = parse(entity(entity_name), filter);
        let key = (entity_name, filter);
        match (case["python"].get("ok"), &ours) {
            (Some(_), Err(_)) if WE_REJECT.contains(&key) => {}
            (Some(expected), Ok(got)) => {
                // Python sends each filter with its `type`, which the spec's filter objects
                // lack and the SDK leaves out: put it back to compare. (Values, not text: the
                // key order of a body does not matter to the backend.)
                let got: Vec<Json> = got.iter().map(python_shape).collect();
                if Json::Array(got.clone()) != *expected {
                    failures.push(format!("{key:?}\n  python: {expected}\n  ours:   {got:?}"));
                }
            }
            (None, Ok(got)) if WE_ACCEPT.contains(&key) => {
                assert_eq!(got.len(), 1);
            }
            (None, Err(_)) => {}
            (python, ours) => failures.push(format!("{key:?}: python {python:?}, ours {ours:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A JSON object's entries in the order the file writes them (the SDK's `serde_json` sorts
/// object keys; Python's field tables are ordered, and so are ours).
struct InOrder(Vec<(String, Json)>);

impl<'de> serde::Deserialize<'de> for InOrder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = InOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<InOrder, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    out.push(entry);
                }
                Ok(InOrder(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[derive(serde::Deserialize)]
struct PythonConfig {
    fields: InOrder,
    dictionary_fields: Vec<String>,
    default_operators: Json,
}

#[test]
fn field_tables_match_python_configs() {
    let configs: std::collections::BTreeMap<String, PythonConfig> =
        serde_json::from_str(include_str!("python_config.json")).unwrap();
    for (name, config) in &configs {
        let entity = entity(name);
        let ours: Vec<(&str, Json, Json)> = fields(entity)
            .iter()
            .map(|f| {
                (
                    f.name,
                    serde_json::to_value(f.field_type).unwrap(),
                    serde_json::to_value(f.operators).unwrap(),
                )
            })
            .collect();
        let theirs: Vec<(&str, Json, Json)> = config
            .fields
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v["type"].clone(), v["operators"].clone()))
            .collect();
        assert_eq!(ours, theirs, "{name}");
        let mut keyed: Vec<&str> = fields(entity)
            .iter()
            .filter(|f| f.has_keys)
            .map(|f| f.name)
            .collect();
        let mut python_keyed: Vec<&str> = config
            .dictionary_fields
            .iter()
            .map(String::as_str)
            .collect();
        keyed.sort();
        python_keyed.sort();
        assert_eq!(keyed, python_keyed, "{name}");
        assert_eq!(
            serde_json::to_value(default_operators(entity)).unwrap(),
            config.default_operators,
            "{name}"
        );
    }
}

fn error(entity: Entity, filter: &str) -> FilterError {
    parse(entity, filter).unwrap_err()
}

#[test]
fn errors_point_at_the_token_and_suggest() {
    let e = error(Entity::Traces, "name = \"a\" and nmae = \"b\"");
    assert_eq!((e.column(), e.token()), (15, "nmae"));
    assert!(matches!(
        e.kind,
        FilterErrorKind::UnknownField {
            suggestion: Some("name"),
            ..
        }
    ));
    let shown = e.to_string();
    assert!(shown.starts_with("invalid filter at column 16 (`nmae`): unknown field `nmae` for traces; did you mean `name`?"), "{shown}");
    assert!(
        shown.ends_with("\n  name = \"a\" and nmae = \"b\"\n                 ^^^^"),
        "{shown}"
    );

    let e = error(Entity::Traces, "duration contains 5");
    assert_eq!(e.token(), "contains");
    assert_eq!(
        e.to_string().lines().next().unwrap(),
        "invalid filter at column 10 (`contains`): operator `contains` is not supported for `duration`; \
         use one of `=`, `!=`, `>`, `>=`, `<`, `<=`"
    );

    let e = error(Entity::Traces, "name contians \"x\"");
    assert!(matches!(
        e.kind,
        FilterErrorKind::UnknownOperator {
            suggestion: Some(Operator::Contains),
            glued: false,
            ..
        }
    ));
    let e = error(Entity::Traces, "name contains\"x\"");
    assert!(
        e.to_string()
            .contains("put a space between `contains` and its value"),
        "{e}"
    );
    let e = error(Entity::Traces, "name == \"x\"");
    assert!(
        e.to_string()
            .contains("unknown operator `==` for `name`; did you mean `=`?"),
        "{e}"
    );
    let e = error(Entity::Spans, "metadata.k like \"x\"");
    assert!(e.to_string().contains("did you mean `contains`?"), "{e}");

    let e = error(Entity::Traces, "usage.totl_tokens > 1");
    assert!(matches!(
        e.kind,
        FilterErrorKind::UnknownUsageField {
            suggestion: Some("usage.total_tokens"),
            ..
        }
    ));
    assert_eq!(e.token(), "totl_tokens");
    let e = error(Entity::Threads, "usage.total_tokens > 1");
    assert!(
        e.to_string().contains("this entity has no usage fields"),
        "{e}"
    );

    let e = error(Entity::Traces, "name.first = \"x\"");
    assert!(e.to_string().contains("field `name` has no keys"), "{e}");
    assert_eq!(e.token(), "first");

    let e = error(Entity::Traces, "name = \"a\" or name = \"b\"");
    assert_eq!(
        (e.kind.clone(), e.token()),
        (FilterErrorKind::OrNotSupported, "or")
    );
    let e = error(Entity::Traces, "name = \"a\" name = \"b\"");
    assert_eq!(
        (e.kind.clone(), e.token()),
        (FilterErrorKind::ExpectedAnd, "name")
    );
    let e = error(Entity::Traces, "duration > 1.2.3");
    assert_eq!(
        (e.kind.clone(), e.token()),
        (FilterErrorKind::ExpectedAnd, ".3")
    );

    let e = error(Entity::Traces, "name = 'x'");
    assert!(
        e.to_string().contains("single quotes are only for keys"),
        "{e}"
    );
    let e = error(Entity::Traces, "name = \"open");
    assert_eq!(e.token(), "\"open");
    assert!(
        e.to_string()
            .contains("missing closing quote for the value"),
        "{e}"
    );
    let e = error(Entity::Traces, "name =");
    assert_eq!(e.span, 6..6);
    assert!(
        e.to_string()
            .starts_with("invalid filter at column 7 (end of filter): expected a value after `=`"),
        "{e}"
    );
    let e = error(Entity::Traces, "environment in (\"a\" \"b\")");
    assert_eq!(
        (e.kind.clone(), e.token()),
        (FilterErrorKind::ExpectedCommaOrParen, "\"b\")")
    );
    let e = error(Entity::Traces, "environment in (\"a,b\")");
    assert_eq!(
        (e.kind.clone(), e.token()),
        (FilterErrorKind::CommaInListItem, "\"a,b\"")
    );
    let e = error(Entity::Traces, "   ");
    assert_eq!(e.kind, FilterErrorKind::ExpectedField);
    // Columns count characters, not bytes.
    let e = error(Entity::Traces, "name = \"é\" and ñame = \"x\"");
    assert_eq!(e.column(), 15);
}

#[test]
fn serializes_to_the_spec_filter_objects() {
    let filters = parse(Entity::Traces, "metadata.\"a b\" = \"x\" and tags is_empty").unwrap();
    assert_eq!(
        serde_json::to_string(&filters).unwrap(),
        r#"[{"field":"metadata","operator":"=","key":"a b","value":"x"},{"field":"tags","operator":"is_empty","key":"","value":""}]"#
    );
    assert!(parse(Entity::Traces, "").unwrap().is_empty());
}

mod properties {
    use proptest::prelude::*;

    use super::super::fields::fields;
    use super::super::*;

    fn quote(s: &str, q: char) -> String {
        let doubled: String = s
            .chars()
            .flat_map(|c| if c == q { vec![q, q] } else { vec![c] })
            .collect();
        format!("{q}{doubled}{q}")
    }

    /// A random valid condition for `entity`, and the filter it must parse to.
    fn condition(entity: Entity) -> impl Strategy<Value = (String, Filter)> {
        let all = fields(entity);
        (
            0..all.len(),
            any::<prop::sample::Index>(),
            "[^,\u{0}]{0,8}",
            "[a-z_]{1,6}|[^\u{0}]{1,6}",
            any::<bool>(),
            -1000i64..1000,
        )
            .prop_map(move |(i, op_index, text, key, single, number)| {
                let field = &all[i];
                let op = field.operators[op_index.index(field.operators.len())];
                let (key_src, key) = if field.has_keys {
                    let bare = key.chars().all(|c| c.is_alphanumeric() || c == '_');
                    let src = if bare {
                        key.clone()
                    } else {
                        quote(&key, if single { '\'' } else { '"' })
                    };
                    (format!(".{src}"), key)
                } else {
                    (String::new(), String::new())
                };
                let (value_src, value) = match op {
                    Operator::IsEmpty | Operator::IsNotEmpty => (String::new(), String::new()),
                    Operator::In | Operator::NotIn => (
                        format!("({}, {})", quote(&text, '"'), quote("b", '"')),
                        format!("{text},b"),
                    ),
                    _ if single => (number.to_string(), number.to_string()),
                    _ => (quote(&text, '"'), text.clone()),
                };
                let src = format!("{}{key_src} {op} {value_src}", field.name);
                (
                    src,
                    Filter {
                        field: field.name.into(),
                        operator: op,
                        key,
                        value,
                        field_type: field.field_type,
                    },
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn valid_filters_round_trip(conds in proptest::collection::vec(condition(Entity::Traces), 1..4),
                                    spans in proptest::collection::vec(condition(Entity::Spans), 1..3)) {
            for (entity, conds) in [(Entity::Traces, conds), (Entity::Spans, spans)] {
                let src = conds.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(" AND ");
                let expected: Vec<Filter> = conds.into_iter().map(|(_, f)| f).collect();
                prop_assert_eq!(parse(entity, &src).unwrap(), expected);
            }
        }

        /// Any input parses or fails with a span inside the input.
        #[test]
        fn never_panics(s in "([a-z_.\"' =!<>(),-]|[0-9]|and|or|in|\u{e9}|\u{1c}|\t){0,40}|\\PC{0,30}") {
            for entity in [Entity::Traces, Entity::Spans, Entity::Threads, Entity::DatasetItems, Entity::PromptVersions] {
                if let Err(e) = parse(entity, &s) {
                    prop_assert!(e.span.start <= e.span.end && e.span.end <= s.len());
                    prop_assert!(s.is_char_boundary(e.span.start) && s.is_char_boundary(e.span.end));
                    let _ = e.to_string();
                }
            }
        }
    }
}
