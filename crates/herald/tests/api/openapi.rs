//! The published API description: `GET /openapi.json` (OpenAPI 3.1) describes exactly what the
//! router serves (every documented operation answers, every other route gets the fallback), and
//! `/docs` serves Swagger UI from the binary with no external resource. Real responses are checked
//! against the document's schemas in `openapi_schemas`.

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{assert_error_shape, Api, TestApp, TestResponse};

backend_tests!(
    the_document_is_openapi_3_1_json,
    every_documented_operation_is_served,
    every_secured_operation_answers_401_without_a_key,
    undocumented_routes_get_the_fallback_404,
    swagger_ui_is_served_offline_and_loads_the_document,
);

pub async fn document(app: &TestApp) -> Value {
    let res = app.anonymous().get("/openapi.json").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"));
    res.body
}

/// Every `(METHOD, path template)` of the document, in document order.
fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("a method");
            out.push((m, path.clone()));
        }
    }
    out
}

/// The template with each `{param}` replaced by a placeholder value.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("closed brace") + start;
        out.push_str(&rest[..start]);
        out.push_str("probe-");
        out.push_str(&rest[start + 1..end]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_fallback(res: &TestResponse, method: &Method, path: &str) -> bool {
    res.status == 404 && res.body["message"] == format!("Cannot {method} {path}")
}

async fn call(app: &Api, method: &Method, path: &str) -> TestResponse {
    let rb = app.request(method.clone(), path);
    let rb = if *method == Method::GET {
        rb
    } else {
        rb.json(&json!({}))
    };
    app.send(rb).await
}

async fn the_document_is_openapi_3_1_json(app: TestApp) {
    let doc = document(&app).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(doc["info"]["title"], "Herald");
    assert!(doc["components"]["securitySchemes"]["ApiKey"].is_object());
    let ops = operations(&doc);
    assert!(ops.len() >= 40, "{} operations", ops.len());
    for (method, path) in &ops {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(op["operationId"].is_string(), "{method} {path}");
        assert!(op["responses"].is_object(), "{method} {path}");
        // Every declared path parameter is in the template, and the reverse.
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let in_template = path.matches('{').count();
        assert_eq!(declared.len(), in_template, "{method} {path}");
        for name in declared {
            assert!(
                path.contains(&format!("{{{name}}}")),
                "{method} {path} {name}"
            );
        }
    }
}

async fn every_documented_operation_is_served(app: TestApp) {
    let doc = document(&app).await;
    for (method, template) in operations(&doc) {
        let path = concrete(&template);
        let res = call(&app, &method, &path).await;
        assert!(
            !is_fallback(&res, &method, &path),
            "{method} {template} is documented but not served: {}",
            res.text
        );
        assert!(
            res.status < 500 && res.status != 405,
            "{method} {path}: {} {}",
            res.status,
            res.text
        );
        // What a handler answers is either a documented status or the error body of one.
        let op = &doc["paths"][&template][method.as_str().to_ascii_lowercase()];
        assert!(
            op["responses"].get(res.status.to_string()).is_some(),
            "{method} {path} answered undocumented {}: {}",
            res.status,
            res.text
        );
    }
}

async fn every_secured_operation_answers_401_without_a_key(app: TestApp) {
    let doc = document(&app).await;
    let anonymous = app.anonymous();
    for (method, template) in operations(&doc) {
        let op = &doc["paths"][&template][method.as_str().to_ascii_lowercase()];
        let path = concrete(&template);
        let res = call(&anonymous, &method, &path).await;
        let public = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(Map::is_empty)));
        if public {
            assert!(res.status < 400, "{method} {path}: {}", res.text);
        } else {
            assert_eq!(res.status, 401, "{method} {path}: {}", res.text);
            assert_error_shape(&res);
            assert!(op["responses"].get("401").is_some(), "{method} {template}");
        }
    }
}

async fn undocumented_routes_get_the_fallback_404(app: TestApp) {
    let doc = document(&app).await;
    let probes: &[(Method, &str)] = &[
        (Method::GET, "/"),
        (Method::GET, "/v1"),
        (Method::GET, "/v3/subscribers"),
        (Method::GET, "/openapi.yaml"),
        (Method::GET, "/v1/integrations/abc"),
        (Method::PATCH, "/v1/integrations/abc"),
        (Method::POST, "/v1/subscribers/s1"),
        (Method::PATCH, "/v1/subscribers/s1"),
        (Method::GET, "/v1/subscribers/s1/credentials"),
        (Method::GET, "/v1/topics/k/subscribers"),
        (Method::DELETE, "/v1/topics/k/subscribers/s1"),
        (Method::PUT, "/v1/topics/k"),
        (Method::PUT, "/v2/topics/k"),
        (Method::PUT, "/v2/subscribers/s1"),
        (Method::POST, "/v2/subscribers/s1/subscriptions"),
        (Method::DELETE, "/v2/topics"),
        (Method::GET, "/v2/topics/k/subscriptions/x/extra"),
        (Method::DELETE, "/v2/topics/k/subscriptions/x"),
        (Method::POST, "/v1/health-check"),
        (Method::POST, "/openapi.json"),
    ];
    let documented = operations(&doc);
    for (method, path) in probes {
        for client in [&app.api, &app.anonymous()] {
            let res = call(client, method, path).await;
            res.assert_not_found(&format!("Cannot {method} {path}"));
        }
        // The probe really is undocumented: no template of the document matches it.
        let matches = documented.iter().any(|(m, t)| {
            m == method && {
                let (ts, ps): (Vec<&str>, Vec<&str>) =
                    (t.split('/').collect(), path.split('/').collect());
                ts.len() == ps.len()
                    && ts
                        .iter()
                        .zip(&ps)
                        .all(|(t, p)| t.starts_with('{') || t == p)
            }
        });
        assert!(!matches, "{method} {path} is documented");
    }
}

/// `(status, content type, body)` of a GET whose answer need not be JSON.
async fn get_text(api: &Api, path: &str) -> (u16, String, String) {
    let res = api
        .request(Method::GET, path)
        .send()
        .await
        .expect("request reaches the server");
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, res.text().await.expect("body"))
}

async fn swagger_ui_is_served_offline_and_loads_the_document(app: TestApp) {
    let anonymous = app.anonymous();
    let res = anonymous
        .send(anonymous.request(Method::GET, "/docs"))
        .await;
    assert!(
        (300..400).contains(&res.status),
        "/docs redirects to /docs/: {}",
        res.status
    );
    assert_eq!(res.headers.get(LOCATION).unwrap(), "/docs/");

    let (status, content_type, html) = get_text(&anonymous, "/docs/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            assets.push(url.to_string());
        }
    }
    assert!(assets.len() >= 4, "{assets:?}");
    for url in &assets {
        assert!(
            !url.contains("://") && !url.starts_with("//"),
            "the page loads only local assets: {url}"
        );
        let path = format!("/docs/{}", url.trim_start_matches("./"));
        let (status, _, _) = get_text(&anonymous, &path).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, _, init) = get_text(&anonymous, "/docs/swagger-initializer.js").await;
    assert_eq!(status, 200);
    assert!(
        init.contains("\"url\": \"/openapi.json\""),
        "Swagger UI loads Herald's document: {init}"
    );
    assert!(
        !init.contains("http://") && !init.contains("https://"),
        "no external URL in the configuration (validator badge off): {init}"
    );
    for css in ["/docs/swagger-ui.css", "/docs/index.css"] {
        let (_, _, text) = get_text(&anonymous, css).await;
        assert!(
            !text.contains("url(http"),
            "{css} loads an external resource"
        );
    }
}
