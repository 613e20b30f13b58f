//! Shapes in the OpenAPI document that client generators can use as they are.
//!
//! The derives describe the Rust types faithfully, but in forms several generators cannot turn
//! into code (openapi-python-client drops them with a warning, and the client then lacks the
//! operation or model). Each rewrite below keeps what the document says and changes only how:
//!
//! - **Binary bodies** are `type: string, format: binary` (a file), not arrays of integers,
//!   and required; a multipart upload is an object with one binary `file` part.
//! - **A payload's `data`** is any JSON value, as the service accepts, not an object with no
//!   properties (which generators turn into an empty model, clashing by name).
//! - **A room change** is a `oneOf` of complete objects, one per `kind`, each with the change's
//!   `room_id`, `seq` and `at`, rather than an `allOf` of a `oneOf` and an object.
//! - **A variant's inline `data` object** (`member_left`'s) is a named component.

use serde_json::{Map, Value, json};

/// Applies every rewrite to `api` (an OpenAPI document as JSON).
pub(crate) fn apply(api: &mut Value) {
    binary_bodies(api);
    let schemas = &mut api["components"]["schemas"];
    if let Some(data) = schemas.pointer_mut("/Payload/properties/data") {
        let description = data.get("description").cloned().unwrap_or(Value::Null);
        *data = json!({ "description": description });
    }
    hoist_inline_data(schemas);
    flatten_room_change(schemas);
}

/// Request bodies and responses declared as `Vec<u8>` become files.
fn binary_bodies(api: &mut Value) {
    let Some(paths) = api.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in operation.values_mut() {
            let mut binary = false;
            if let Some(content) = op
                .pointer_mut("/requestBody/content")
                .and_then(Value::as_object_mut)
            {
                for (media_type, body) in content.iter_mut() {
                    if !is_byte_array(&body["schema"]) {
                        continue;
                    }
                    body["schema"] = if media_type == "multipart/form-data" {
                        json!({
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary",
                                "description": "the file, with its name and type in the part's headers"}},
                            "required": ["file"]
                        })
                    } else {
                        json!({"type": "string", "format": "binary"})
                    };
                    binary = true;
                }
            }
            if binary {
                // A file upload without the file is refused: the body is required.
                op["requestBody"]["required"] = json!(true);
            }
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for response in responses.values_mut() {
                    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
                    else {
                        continue;
                    };
                    for body in content.values_mut() {
                        if is_byte_array(&body["schema"]) {
                            body["schema"] = json!({"type": "string", "format": "binary"});
                        }
                    }
                }
            }
        }
    }
}

/// `Vec<u8>` as utoipa writes it: an array of small integers.
fn is_byte_array(schema: &Value) -> bool {
    schema["type"] == "array" && schema["items"]["type"] == "integer"
}

/// `ChangeKind` variants whose `data` is an inline object get it as a component named after
/// the variant (`member_left` → `MemberLeft`).
fn hoist_inline_data(schemas: &mut Value) {
    let mut hoisted = Vec::new();
    if let Some(variants) = schemas
        .pointer_mut("/ChangeKind/oneOf")
        .and_then(Value::as_array_mut)
    {
        for variant in variants {
            let Some(kind) = variant
                .pointer("/properties/kind/enum/0")
                .and_then(Value::as_str)
            else {
                continue;
            };
            let name = camel(kind);
            let data = &mut variant["properties"]["data"];
            if data.get("type") == Some(&json!("object")) {
                hoisted.push((name.clone(), data.take()));
                *data = json!({"$ref": format!("#/components/schemas/{name}")});
            }
        }
    }
    for (name, schema) in hoisted {
        schemas[name] = schema;
    }
}

/// `snake_case` → `CamelCase`.
pub(crate) fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

/// `RoomChange` as one complete object per kind: the variant's `kind` and `data` beside the
/// change's own fields.
fn flatten_room_change(schemas: &mut Value) {
    let parts = schemas
        .pointer("/RoomChange/allOf")
        .and_then(Value::as_array);
    let Some(common) = parts.and_then(|p| p.iter().find(|s| s.get("properties").is_some())) else {
        return;
    };
    let Some(variants) = schemas
        .pointer("/ChangeKind/oneOf")
        .and_then(Value::as_array)
    else {
        return;
    };
    let flat: Vec<Value> = variants
        .iter()
        .map(|variant| {
            let mut properties = Map::new();
            for source in [common, variant] {
                if let Some(p) = source["properties"].as_object() {
                    properties.extend(p.clone());
                }
            }
            let mut required: Vec<Value> = Vec::new();
            for source in [common, variant] {
                if let Some(r) = source["required"].as_array() {
                    required.extend(r.iter().cloned());
                }
            }
            let kind = variant
                .pointer("/properties/kind/enum/0")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json!({
                "type": "object",
                "title": format!("RoomChange{}", camel(kind)),
                "description": variant["description"],
                "properties": properties,
                "required": required,
            })
        })
        .collect();
    let description = schemas["RoomChange"]["description"].clone();
    schemas["RoomChange"] = json!({
        "description": description,
        "oneOf": flat,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_camel_cased() {
        assert_eq!(camel("member_left"), "MemberLeft");
        assert_eq!(camel("x"), "X");
    }
}
