//! The video player view of MCP Apps (the `io.modelcontextprotocol/ui` extension, SEP-1865).
//!
//! A host that declared the extension sees `_meta.ui.resourceUri` on `generate_transition_video`
//! and `get_task_result` in `tools/list`, finds [`PLAYER_URI`] in `resources/list`, reads it
//! (one self-contained HTML file, [`PLAYER_HTML`]) and renders it next to the tool's result. The
//! view follows the task through the host (`tools/call get_task_result`), then plays the video:
//! from this server's signed link when the host let the view load media from its origin (the
//! resource's CSP names it when `--public-url` is set), else from the bytes of the video's
//! `veo://videos/…` resource (`resources/read`) as a `data:` URL, which the extension's default
//! policy allows. Hosts without the extension see none of this.

use rmcp::model::{
    ClientCapabilities, MetaObject, ReadResourceResult, Resource, ResourceContents, Tool,
};
use serde_json::{Value, json};

use crate::app::report::{GENERATE_TOOL, RESULT_TOOL};
use crate::config::Config;

/// The extension's identifier, under `capabilities.extensions`.
pub const EXTENSION_ID: &str = "io.modelcontextprotocol/ui";
/// The media type of an MCP App view.
pub const MIME_TYPE: &str = "text/html;profile=mcp-app";
/// The player's resource.
pub const PLAYER_URI: &str = "ui://veo/player.html";
/// The player: one HTML file, its script and style inline, nothing loaded from elsewhere.
pub const PLAYER_HTML: &str = include_str!("player.html");

/// Whether the client declared that it renders MCP App views of [`MIME_TYPE`] (a declaration
/// without `mimeTypes` counts as yes).
pub fn client_renders_views(capabilities: Option<&ClientCapabilities>) -> bool {
    let Some(settings) = capabilities
        .and_then(|c| c.extensions.as_ref())
        .and_then(|e| e.get(EXTENSION_ID))
    else {
        return false;
    };
    match settings.get("mimeTypes").and_then(Value::as_array) {
        Some(types) => types.iter().any(|t| t.as_str() == Some(MIME_TYPE)),
        None => true,
    }
}

/// Names the player in the `_meta.ui` of the tools it shows, the submit and the result tool
/// (and under the flat `ui/resourceUri` key that hosts written before the stable extension read).
pub fn link_tools(tools: &mut [Tool]) {
    for tool in tools
        .iter_mut()
        .filter(|t| t.name == GENERATE_TOOL || t.name == RESULT_TOOL)
    {
        let meta = tool.meta.get_or_insert_with(MetaObject::default);
        meta.0
            .insert("ui".into(), json!({ "resourceUri": PLAYER_URI }));
        meta.0.insert("ui/resourceUri".into(), json!(PLAYER_URI));
    }
}

/// The player as `resources/list` shows it.
pub fn listed(config: &Config) -> Resource {
    Resource::new(PLAYER_URI, "veo-player")
        .with_title("Video player")
        .with_description(
            "Shows a video task's prompt and settings, its progress while it runs, then plays the video (MCP Apps view).",
        )
        .with_mime_type(MIME_TYPE)
        .with_meta(view_meta(config))
}

/// The player's HTML, with the content policy it needs.
pub fn read(config: &Config) -> ReadResourceResult {
    ReadResourceResult::new(vec![
        ResourceContents::text(PLAYER_HTML, PLAYER_URI)
            .with_mime_type(MIME_TYPE)
            .with_meta(view_meta(config)),
    ])
}

/// `_meta.ui` of the view: a border, and the one origin it loads media from, this server's
/// public URL, when it makes video links. Nothing else: the view fetches nothing and loads no
/// script, style or font from anywhere.
fn view_meta(config: &Config) -> MetaObject {
    let mut ui = json!({ "prefersBorder": true });
    if let Some(links) = &config.video_links {
        ui["csp"] = json!({ "resourceDomains": [links.origin()] });
    }
    let mut meta = MetaObject::default();
    meta.0.insert("ui".into(), ui);
    meta
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ExtensionCapabilities;

    fn declaring(settings: Value) -> ClientCapabilities {
        let mut extensions = ExtensionCapabilities::new();
        extensions.insert(
            EXTENSION_ID.to_string(),
            serde_json::from_value(settings).unwrap(),
        );
        ClientCapabilities::builder()
            .enable_extensions_with(extensions)
            .build()
    }

    #[test]
    fn only_a_client_that_renders_app_html_gets_the_view() {
        assert!(!client_renders_views(None));
        assert!(!client_renders_views(Some(&ClientCapabilities::default())));
        assert!(client_renders_views(Some(&declaring(
            json!({ "mimeTypes": [MIME_TYPE] })
        ))));
        assert!(client_renders_views(Some(&declaring(json!({})))));
        assert!(!client_renders_views(Some(&declaring(
            json!({ "mimeTypes": ["text/uri-list"] })
        ))));
    }

    #[test]
    fn the_view_is_self_contained() {
        let html = PLAYER_HTML.to_ascii_lowercase();
        assert!(html.starts_with("<!doctype html>"));
        for external in ["src=\"http", "href=\"http", "@import", "url(http", "<link "] {
            assert!(!html.contains(external), "the player loads {external}…");
        }
    }
}
