//! The MCP Apps player (`io.modelcontextprotocol/ui`): offered to hosts that declared the
//! extension, in `tools/list`, `resources/list` and `resources/read`; hosts without it see
//! exactly what they saw before. Over the in-process pipe and over stateless streamable HTTP.
//! (The player itself runs in a browser in `scripts/player.sh`.)

use std::net::SocketAddr;

use rmcp::model::{
    ClientCapabilities, ExtensionCapabilities, ReadResourceRequestParams, ResourceContents,
};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use veo_mcp::VeoServer;
use veo_mcp::links::VideoLinks;
use veo_mcp::mcp::player::{EXTENSION_ID, MIME_TYPE, PLAYER_HTML, PLAYER_URI};
use veo_tests::{connect_in_process, connect_with, serve_http};

/// A host that renders MCP App views.
#[derive(Clone, Default)]
struct AppsHost;

fn apps_capabilities() -> ClientCapabilities {
    let mut extensions = ExtensionCapabilities::new();
    extensions.insert(
        EXTENSION_ID.to_string(),
        serde_json::from_value(json!({ "mimeTypes": [MIME_TYPE] })).unwrap(),
    );
    ClientCapabilities::builder()
        .enable_extensions_with(extensions)
        .build()
}

impl ClientHandler for AppsHost {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            apps_capabilities(),
            rmcp::model::Implementation::new("apps-host", "1"),
        )
    }
}

async fn server(links: Option<VideoLinks>) -> VeoServer {
    let mut config = veo_tests::config("http://127.0.0.1:9", Some("k")).with_video_links(links);
    config.background = false;
    veo_tests::server(config).await
}

/// Each tool's `_meta.ui` and its flat `_meta["ui/resourceUri"]`, by name (`Null` when absent).
async fn tool_ui<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
) -> Vec<(String, Value, Value)> {
    let tools = client.peer().list_all_tools().await.unwrap();
    tools
        .into_iter()
        .map(|t| {
            let meta = t.meta.unwrap_or_default().0;
            let field = |key: &str| meta.get(key).cloned().unwrap_or(Value::Null);
            (t.name.to_string(), field("ui"), field("ui/resourceUri"))
        })
        .collect()
}

#[tokio::test]
async fn a_host_that_renders_views_is_offered_the_player() {
    let client = connect_with(server(None).await, AppsHost).await;

    let advertised = client.peer().peer_info().unwrap().capabilities.clone();
    assert_eq!(
        advertised.extensions.as_ref().unwrap()[EXTENSION_ID]["mimeTypes"],
        json!([MIME_TYPE])
    );
    for (name, ui, flat) in tool_ui(&client).await {
        match name.as_str() {
            "generate_transition_video" | "get_task_result" => {
                assert_eq!(ui, json!({ "resourceUri": PLAYER_URI }), "{name}");
                assert_eq!(flat, json!(PLAYER_URI), "{name}");
            }
            _ => assert_eq!(
                (ui, flat),
                (Value::Null, Value::Null),
                "{name} shows no view"
            ),
        }
    }

    let listed = client.peer().list_resources(None).await.unwrap();
    let player = &listed.resources[0];
    assert_eq!(player.uri, PLAYER_URI);
    assert_eq!(player.mime_type.as_deref(), Some(MIME_TYPE));

    let read = client
        .peer()
        .read_resource(ReadResourceRequestParams::new(PLAYER_URI))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents {
        uri,
        mime_type,
        text,
        meta,
    } = &read.contents[0]
    else {
        panic!("the player is HTML text: {read:?}")
    };
    assert_eq!(
        (uri.as_str(), mime_type.as_deref()),
        (PLAYER_URI, Some(MIME_TYPE))
    );
    assert_eq!(text, PLAYER_HTML);
    // No public URL: the view loads nothing from anywhere, so it declares no origin.
    assert_eq!(
        meta.as_ref().unwrap().0["ui"],
        json!({ "prefersBorder": true })
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn with_a_public_url_the_view_may_load_media_from_it_and_nothing_else() {
    let links = VideoLinks::new("https://veo.example.com:8443/team/", None, 7).unwrap();
    let client = connect_with(server(Some(links)).await, AppsHost).await;
    let read = client
        .peer()
        .read_resource(ReadResourceRequestParams::new(PLAYER_URI))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { meta, .. } = &read.contents[0] else {
        panic!("the player is HTML text")
    };
    assert_eq!(
        meta.as_ref().unwrap().0["ui"]["csp"],
        json!({ "resourceDomains": ["https://veo.example.com:8443"] })
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_host_without_the_extension_sees_no_player() {
    let (client, _) = connect_in_process(server(None).await).await;
    for (name, ui, flat) in tool_ui(&client).await {
        assert_eq!((ui, flat), (Value::Null, Value::Null), "{name}");
    }
    let listed = client.peer().list_resources(None).await.unwrap();
    assert!(listed.resources.is_empty(), "{:?}", listed.resources);
    client.cancel().await.unwrap();
}

/// A stateless 2026-07-28 request from a client with `capabilities`.
async fn stateless(addr: SocketAddr, method: &str, capabilities: Value, params: Value) -> Value {
    veo_tests::stateless_request(addr, method, params, &capabilities, None).await
}

#[tokio::test]
async fn over_stateless_http_each_request_decides_by_its_own_capabilities() {
    let (addr, shutdown) = serve_http(server(None).await).await;
    let apps = json!({ "extensions": { EXTENSION_ID: { "mimeTypes": [MIME_TYPE] } } });
    let plain = json!({});

    let uis = |reply: &Value| -> Vec<Value> {
        reply["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["_meta"]["ui"]["resourceUri"].clone())
            .collect()
    };
    let with = stateless(addr, "tools/list", apps.clone(), json!({})).await;
    assert_eq!(
        uis(&with)
            .iter()
            .filter(|u| **u == json!(PLAYER_URI))
            .count(),
        2,
        "{with}"
    );
    let without = stateless(addr, "tools/list", plain.clone(), json!({})).await;
    assert!(uis(&without).iter().all(Value::is_null), "{without}");
    assert!(
        !without.to_string().contains("ui://"),
        "nothing of the view for a plain host: {without}"
    );

    let listed = stateless(addr, "resources/list", apps, json!({})).await;
    assert_eq!(
        listed["result"]["resources"][0]["uri"], PLAYER_URI,
        "{listed}"
    );
    let listed = stateless(addr, "resources/list", plain, json!({})).await;
    assert_eq!(listed["result"]["resources"], json!([]), "{listed}");
    shutdown.cancel();
}
