//! Every response a test gets through [`App`](super::App) is checked against the served
//! OpenAPI document: the operation is found from the method and path, the schema from the
//! status (or `default`), and a JSON body must validate (JSON Schema 2020-12, which OpenAPI
//! 3.1 schemas are). A JSON answer on an operation that documents none for its status fails
//! too. So the document cannot drift from what the server sends on any path the suite walks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

/// A documented response: (method, path template, status).
type ResponseKey = (String, String, String);

/// The served document, and the validators made from it so far.
pub struct ServedSchema {
    doc: Value,
    /// (method, template, status) → validator, or `None` when no JSON is documented.
    validators: Mutex<HashMap<ResponseKey, Option<Arc<jsonschema::Validator>>>>,
}

impl ServedSchema {
    pub fn new(doc: Value) -> Arc<Self> {
        Arc::new(Self {
            doc,
            validators: Mutex::default(),
        })
    }

    /// The path template of the documented operation `method path` matches; the one with the
    /// most literal segments when several do (`…/members/lookup` before `…/members/{id}`).
    fn template(&self, method: &str, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        paths
            .iter()
            .filter(|(_, item)| item.get(method).is_some())
            .filter_map(|(template, _)| {
                let parts: Vec<&str> = template.split('/').collect();
                if parts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (part, segment) in parts.iter().zip(&segments) {
                    if part.starts_with('{') {
                        continue;
                    }
                    if part != segment {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, template.clone()))
            })
            .max()
            .map(|(_, template)| template)
    }

    fn validator(
        &self,
        method: &str,
        template: &str,
        status: &str,
    ) -> Option<Arc<jsonschema::Validator>> {
        let key = (method.to_owned(), template.to_owned(), status.to_owned());
        let mut cache = self.validators.lock().unwrap();
        cache
            .entry(key)
            .or_insert_with(|| {
                let responses = &self.doc["paths"][template][method]["responses"];
                let response = responses.get(status).or_else(|| responses.get("default"))?;
                let schema = response["content"]["application/json"].get("schema")?;
                // The component schemas travel with the one checked, so `$ref`s resolve.
                let root = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": self.doc["components"],
                    "allOf": [schema],
                });
                Some(Arc::new(
                    jsonschema::draft202012::new(&root)
                        .unwrap_or_else(|e| panic!("{method} {template} {status}: {e}")),
                ))
            })
            .clone()
    }

    /// Panics unless `body`, answered with `status` to `method path`, is what the document
    /// says. Paths that are no documented operation (the router's 404) are not judged.
    pub fn check(&self, method: &str, path: &str, status: StatusCode, is_json: bool, body: &[u8]) {
        let method = method.to_ascii_lowercase();
        let Some(template) = self.template(&method, path) else {
            return;
        };
        if !is_json {
            return;
        }
        let status = status.as_u16().to_string();
        let Some(validator) = self.validator(&method, &template, &status) else {
            panic!(
                "{method} {path}: a JSON {status} answer the document does not describe: {}",
                String::from_utf8_lossy(body)
            );
        };
        let value: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: the body is not JSON ({e})"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the document ({template}): {errors:#?}\nbody: {value}"
        );
    }
}

/// The middleware: passes the request on, then checks the whole answer.
pub async fn check_response(schema: Arc<ServedSchema>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    schema.check(&method, &path, parts.status, is_json, &bytes);
    Response::from_parts(parts, Body::from(bytes))
}
