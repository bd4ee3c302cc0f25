//! The OpenAPI description names exactly the routes and error codes the handler has.

#[test]
fn openapi_describes_exactly_the_routes_and_error_codes_the_handler_has() {
    use serde_yaml_ng::Value as Yaml;
    use shared::entrypoints::credentials_api::{ApiError, Route};

    let path = format!("{}/../openapi.yaml", env!("CARGO_MANIFEST_DIR"));
    let doc: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_mapping().unwrap();

    let mut expected = std::collections::BTreeSet::new();
    for (route, name, method, takes_id) in Route::ALL {
        let key = if takes_id {
            format!("/connections/{{connection_id}}/{name}/{{id}}")
        } else {
            format!("/connections/{{connection_id}}/{name}")
        };
        let item = paths
            .get(Yaml::from(key.as_str()))
            .unwrap_or_else(|| panic!("openapi.yaml lacks {key}"));
        let operations: Vec<&str> = item
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Yaml::as_str)
            .collect();
        assert_eq!(operations, vec![method.to_ascii_lowercase()], "{key}");
        let operation = &item[method.to_ascii_lowercase().as_str()];
        assert_eq!(operation["operationId"].as_str(), Some(name));
        let success = match route {
            Route::Create => "201",
            Route::ProjectsSync | Route::ProjectsResync | Route::ConnectionsSync => "202",
            _ => "200",
        };
        assert!(
            operation["responses"].get(success).is_some(),
            "{name} documents {success}"
        );
        for status in ["401", "404", "405", "503"] {
            assert!(
                operation["responses"].get(status).is_some(),
                "{name} documents {status}"
            );
        }
        expected.insert(key);
    }
    let documented: std::collections::BTreeSet<String> = paths
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    // The push hook's public route is on the same API, served by its own function with its own codes.
    let hook = "/connections/{connection_id}/hooks/gitlab";
    let operation = &paths[&Yaml::from(hook)]["post"];
    assert_eq!(operation["operationId"].as_str(), Some("push_hook"));
    assert_eq!(operation["security"], Yaml::Sequence(Vec::new()), "public");
    for status in ["202", "400", "401", "404", "405", "413", "503"] {
        assert!(
            operation["responses"].get(status).is_some(),
            "push_hook documents {status}"
        );
    }
    let hook_codes: Vec<&str> =
        doc["components"]["schemas"]["HookError"]["properties"]["error"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
    assert_eq!(hook_codes, shared::entrypoints::push_hook::ERROR_CODES);
    expected.insert(hook.to_owned());
    assert_eq!(documented, expected, "no undocumented or stale paths");

    let codes: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let handler_codes: Vec<&str> = ApiError::ALL_CODES.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, handler_codes);
    for (code, status) in ApiError::ALL_CODES {
        let status = status.to_string();
        assert!(
            paths
                .values()
                .flat_map(|item| item.as_mapping().unwrap().values())
                .any(|operation| operation["responses"].get(status.as_str()).is_some()),
            "no operation documents {status} ({code})"
        );
    }
}
