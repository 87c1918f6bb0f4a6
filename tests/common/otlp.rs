//! Checks of container births exported as OTLP spans (`export --format
//! otlp-json`, `watch --otlp`), on the official OTLP message types.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    trace::v1::Span,
};

/// A span and the resource attributes it was sent with.
pub struct Received {
    pub span: Span,
    pub resource: Vec<KeyValue>,
}

/// Every span of some requests.
pub fn spans(requests: &[ExportTraceServiceRequest]) -> Vec<Received> {
    let mut spans = Vec::new();
    for resource_spans in requests.iter().flat_map(|r| &r.resource_spans) {
        let resource = resource_spans.resource.clone().unwrap_or_default().attributes;
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                spans.push(Received { span: span.clone(), resource: resource.clone() });
            }
        }
    }
    spans
}

pub fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value: &AnyValue| value.value.as_ref())
}

pub fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

pub fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key)? {
        any_value::Value::IntValue(n) => Some(*n),
        _ => None,
    }
}

/// The trace of container `id`'s birth, checked for its shape: one root
/// span "container ID" with the semantic-convention attributes, every
/// other span of the trace its child, the children in time order without
/// overlap and inside the root. Returns the root and the children.
pub fn birth<'a>(spans: &'a [Received], id: &str) -> (&'a Received, Vec<&'a Received>) {
    let name = format!("container {id}");
    let roots: Vec<&Received> = spans.iter().filter(|r| r.span.name == name).collect();
    let [root] = roots.as_slice() else { panic!("{} spans named {name:?}", roots.len()) };
    assert!(root.span.parent_span_id.is_empty(), "{name}: the root has a parent");
    assert_eq!(root.span.trace_id.len(), 16, "{name}: trace id");
    let mut children: Vec<&Received> = spans
        .iter()
        .filter(|r| r.span.trace_id == root.span.trace_id && r.span.span_id != root.span.span_id)
        .collect();
    children.sort_by_key(|r| r.span.start_time_unix_nano);
    for child in &children {
        assert_eq!(child.span.parent_span_id, root.span.span_id, "{}: parent", child.span.name);
        assert!(
            child.span.start_time_unix_nano >= root.span.start_time_unix_nano
                && child.span.end_time_unix_nano <= root.span.end_time_unix_nano,
            "{}: outside its root",
            child.span.name
        );
    }
    for pair in children.windows(2) {
        assert!(
            pair[0].span.end_time_unix_nano <= pair[1].span.start_time_unix_nano,
            "{} overlaps {}",
            pair[0].span.name,
            pair[1].span.name
        );
    }
    // Semantic conventions: the container on the span, the host on the
    // resource.
    let attributes = &root.span.attributes;
    assert_eq!(string(attributes, "container.id").as_deref(), Some(id));
    assert!(
        string(attributes, "container.runtime.name").is_some(),
        "{name}: container.runtime.name"
    );
    let host = nix::sys::utsname::uname().unwrap();
    assert_eq!(
        string(&root.resource, "host.name").as_deref(),
        host.nodename().to_str(),
        "resource host.name"
    );
    assert_eq!(string(&root.resource, "os.type").as_deref(), Some("linux"));
    assert_eq!(string(&root.resource, "os.version").as_deref(), host.release().to_str());
    assert_eq!(string(&root.resource, "service.name").as_deref(), Some("cradle"));
    (root, children)
}

/// The phases of a birth, in their order (running and exit end a birth).
pub fn birth_phases() -> &'static [&'static str] {
    &super::PHASES[..6]
}

/// The span events named `name` over some spans, by span name.
pub fn events_named<'a>(
    spans: &[&'a Received],
    name: &str,
) -> Vec<(&'a str, &'a opentelemetry_proto::tonic::trace::v1::span::Event)> {
    spans
        .iter()
        .flat_map(|r| r.span.events.iter().map(move |e| (r.span.name.as_str(), e)))
        .filter(|(_, e)| e.name == name)
        .collect()
}

/// The namespaces a birth created, by type, with their inode numbers,
/// from its `namespace` span events.
pub fn namespaces(children: &[&Received]) -> BTreeMap<String, i64> {
    events_named(children, "namespace")
        .into_iter()
        .filter_map(|(_, event)| {
            let kind = string(&event.attributes, "cradle.namespace.type")?;
            Some((kind, int(&event.attributes, "cradle.namespace.inode")?))
        })
        .collect()
}
