//! `cradle export TRACE --format otlp-json`: every container birth of a
//! saved trace as one OTLP `ExportTraceServiceRequest`, in the protobuf
//! JSON mapping that OTLP/HTTP JSON receivers and file-fed backends read.

use cradle_reports::{LoadedTrace, build_report};
use opentelemetry_proto::{
    tonic::collector::trace::v1::ExportTraceServiceRequest,
    transform::{
        common::tonic::ResourceAttributesWithSchema,
        trace::tonic::group_spans_by_resource_and_scope,
    },
};

use crate::{Birth, spans};

/// The births of `trace`, each one trace of spans, in one request.
pub fn request(trace: &LoadedTrace) -> ExportTraceServiceRequest {
    let report = build_report(trace);
    let spans = trace
        .containers
        .iter()
        .zip(report.containers)
        .flat_map(|(container, report)| {
            let birth = Birth { container: container.clone(), report };
            spans::birth_spans(&birth, &trace.header)
        })
        .collect();
    let resource = ResourceAttributesWithSchema::from(&spans::resource(&trace.header));
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, &resource),
    }
}

/// The request as OTLP JSON.
pub fn render(trace: &LoadedTrace) -> Result<String, serde_json::Error> {
    serde_json::to_string(&request(trace))
}
