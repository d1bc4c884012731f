//! The client's roots: directories the person has shared with the host (a project, a folder
//! opened in the editor). When a client on this machine (over stdio) declares the `roots`
//! capability, local frame files may also be read below those, besides the server's own allowed
//! roots; a client over HTTP may be on another machine, so its roots are not used. They are
//! asked for at each submit that names a local file, so a changed list (`roots/list_changed`)
//! is always followed.

use std::path::PathBuf;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::ProtocolVersion;
use rmcp::service::RequestContext;
use veo_core::ImagePolicy;

/// How long the client gets to list its roots.
const LIST_WITHIN: Duration = Duration::from_secs(5);

/// `policy` with the directories the client of `context` lists as its roots added, when it
/// declared the capability, is connected over stdio with a protocol that lets the server ask,
/// and one of `frames` is a local file; `policy` as it is otherwise.
// Roots are deprecated from protocol 2026-07-28 on (SEP-2577), where they are not asked for;
// the 2025 hosts that declare them still send them.
#[allow(deprecated)]
pub async fn with_client_roots(
    context: &RequestContext<RoleServer>,
    policy: &ImagePolicy,
    frames: [Option<&str>; 2],
) -> ImagePolicy {
    let mut policy = policy.clone();
    let stateless = context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    let declared = context
        .client_capabilities()
        .is_some_and(|c| c.roots.is_some());
    // Classifying scans each frame string (Base64 can be megabytes): only when it decides.
    let local_file = || {
        frames.into_iter().flatten().any(|frame| {
            matches!(
                veo_core::image::classify(frame),
                Ok(veo_core::image::FrameInput::File(_))
            )
        })
    };
    // A client over HTTP is on another machine: its directories are not this one's to share.
    let remote = context
        .extensions
        .get::<axum::http::request::Parts>()
        .is_some();
    if stateless || !declared || remote || !local_file() {
        return policy;
    }
    match tokio::time::timeout(LIST_WITHIN, context.peer.list_roots()).await {
        Ok(Ok(listed)) => {
            let shared: Vec<PathBuf> = listed
                .roots
                .iter()
                .filter_map(|root| directory(&root.uri))
                .collect();
            policy.allowed_roots.extend(shared);
        }
        Ok(Err(e)) => tracing::debug!("the client did not list its roots: {e}"),
        Err(_) => tracing::debug!("the client did not list its roots within {LIST_WITHIN:?}"),
    }
    policy
}

/// The directory of a `file://` root; other schemes and filesystem roots are not used.
fn directory(uri: &str) -> Option<PathBuf> {
    let path = url::Url::parse(uri).ok()?.to_file_path().ok()?;
    path.parent().is_some().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_directories_below_a_filesystem_root_are_used() {
        assert_eq!(
            directory("file:///home/you/project"),
            Some(PathBuf::from("/home/you/project"))
        );
        assert_eq!(directory("file:///"), None);
        assert_eq!(directory("https://example.com/x"), None);
        assert_eq!(directory("not a uri"), None);
    }
}
