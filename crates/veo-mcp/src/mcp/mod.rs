//! The MCP server: three tools declared with rmcp's tool router, each a thin adapter that reads
//! its arguments ([`args`]), calls the [`App`], and renders the report or the error
//! ([`reply`]); progress notifications while a result call waits ([`progress`]); the saved
//! videos as resources ([`resources`]); the MCP Apps video player for hosts that render it
//! ([`player`]).
//!
//! Tools take their arguments as a raw JSON object rather than rmcp's `Parameters<T>`, so that
//! every argument problem (wrong types included) is a readable tool error (`isError: true`)
//! listing all problems at once, not a JSON-RPC error. Their input and output schemas are
//! veo-core's host-friendly ones (flat, no `$ref`); the parts that depend on the configuration
//! (descriptions, the default model, the wait limit) are filled in by [`VeoServer::new`].

pub mod args;
pub mod confirm;
pub mod player;
pub mod progress;
pub mod reply;
pub mod resources;
pub mod roots;
pub mod tasks;

use std::sync::Arc;

use rmcp::Peer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState, ToolCallContext};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, GetTaskParams,
    GetTaskResult, Implementation, InitializeResult, JsonObject, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, RequestMetaObject, ServerCapabilities, ServerConfig, Tool,
    UpdateTaskParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use veo_core::TransitionRequest;
use veo_core::schema::host_friendly_schema;

use crate::app::report::{
    DEFAULT_WAIT_SECONDS, GENERATE_TOOL, LIST_TOOL, RESULT_TOOL, Submitted, TaskList, TaskReport,
};
use crate::app::{App, AppError, ResultOptions};
use crate::config::Config;
use confirm::HostConfirm;

const INSTRUCTIONS: &str = "Makes short videos that move from a first frame to a last frame (Veo 3.1). \
Call generate_transition_video once with both frames and a prompt: it returns a task_id at once and \
costs money, so never call it again for the same video. Then call get_task_result with that task_id \
and wait_seconds (up to the server's limit) until status is succeeded or failed. Finished videos are \
saved to the server's output directory automatically (saved_path); their URLs expire about an hour \
after they are made. Lost a task_id? list_tasks shows recent tasks. A host that declared MCP's Tasks \
extension gets a task from generate_transition_video instead and follows it with tasks/get; \
get_task_result works with the same id.";

/// The MCP server: the three tools over one [`App`]. Cheap to clone (streamable HTTP makes one
/// per request): the tools' descriptions are shared, not copied.
#[derive(Clone)]
pub struct VeoServer {
    app: App,
    tool_router: Arc<ToolRouter<VeoServer>>,
}

fn schema<T: JsonSchema>() -> Arc<JsonObject> {
    Arc::new(host_friendly_schema::<T>())
}

impl VeoServer {
    /// Starts the [`App`] for `config` (journal, background watcher) and serves it.
    pub async fn start(config: Config) -> Result<VeoServer, AppError> {
        Ok(VeoServer::new(App::start(config).await?))
    }

    /// A server over `app`, its tools described for `app`'s configuration.
    pub fn new(app: App) -> VeoServer {
        let mut tool_router = VeoServer::tool_router();
        for route in tool_router.map.values_mut() {
            describe(&mut route.attr, app.config());
        }
        VeoServer {
            app,
            tool_router: Arc::new(tool_router),
        }
    }

    /// The application the tools call.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The tools this server offers, by name.
    pub fn tools(&self) -> Vec<Tool> {
        self.tool_router.list_all()
    }
}

#[tool_router]
impl VeoServer {
    /// Submits a video (described in full by [`describe`]).
    #[tool(
        name = "generate_transition_video",
        title = "Generate transition video",
        input_schema = schema::<TransitionRequest>(),
        output_schema = schema::<Submitted>(),
        annotations(
            title = "Generate transition video",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn generate_transition_video(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
        InputResponses(answers): InputResponses,
        RequestState(state): RequestState,
    ) -> CallToolResponse {
        let config = self.app.config();
        let frame = |name: &str| args.get(name).and_then(Value::as_str);
        let frames = [frame("image"), frame("last_image")];
        let policy = roots::with_client_roots(&context, &config.image_policy, frames).await;
        let (prepared, allow_duplicate) =
            match args::generate_args(args, config.default_model, &policy).await {
                Ok(parsed) => parsed,
                Err(invalid) => return CallToolResult::from(AppError::from(invalid)).into(),
            };
        let ask = HostConfirm::for_call(&context, answers, state);
        match self.app.submit(&prepared, allow_duplicate, &ask).await {
            Ok(submitted) if tasks::client_wants_tasks(&context) => {
                CallToolResponse::Task(tasks::created(&self.app, &submitted).await)
            }
            Ok(submitted) => reply::structured(&submitted, submitted.text()).into(),
            Err(AppError::ConfirmationPending {
                question,
                fingerprint,
            }) => confirm::input_required(&question, &fingerprint).into(),
            Err(e) => CallToolResult::from(e).into(),
        }
    }

    /// Reports a task, waiting for it with progress notifications.
    #[tool(
        name = "get_task_result",
        title = "Get video task result",
        input_schema = schema::<args::TaskResultArgs>(),
        output_schema = schema::<TaskReport>(),
        annotations(
            title = "Get video task result",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_task_result(
        &self,
        args: JsonObject,
        // The parts it needs, not the whole request context, whose copy (the HTTP request's
        // headers included) would be made for every call.
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        cancel: CancellationToken,
    ) -> CallToolResult {
        let (task_id, wait_seconds) = match args::result_args(&args) {
            Ok(parsed) => parsed,
            Err(invalid) => return AppError::from(invalid).into(),
        };
        // Progress only while waiting; a call that just looks has nothing to report.
        let token = meta
            .get_progress_token()
            .filter(|_| wait_seconds != Some(0));
        let (updates, reporter) = match token {
            Some(token) => {
                let (tx, rx) = watch::channel(None);
                (
                    Some(tx),
                    Some(tokio::spawn(progress::report_progress(peer, token, rx))),
                )
            }
            None => (None, None),
        };
        let options = ResultOptions {
            wait_seconds,
            save_budget: None,
            cancel,
        };
        let outcome = self
            .app
            .result(&task_id, options, move |result| {
                if let Some(tx) = &updates {
                    tx.send_replace(Some(result.clone()));
                }
            })
            .await;
        if let Some(reporter) = reporter {
            let _ = reporter.await;
        }
        match outcome {
            Ok(report) => reply::task_report(&report),
            Err(e) => e.into(),
        }
    }

    /// Lists the journal's recent tasks.
    #[tool(
        name = "list_tasks",
        title = "List video tasks",
        input_schema = schema::<args::ListTasksArgs>(),
        output_schema = schema::<TaskList>(),
        annotations(
            title = "List video tasks",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_tasks(&self, args: JsonObject) -> CallToolResult {
        let (filter, limit) = match args::list_args(&args) {
            Ok(parsed) => parsed,
            Err(invalid) => return AppError::from(invalid).into(),
        };
        match self.app.list(filter, limit).await {
            Ok(list) => reply::structured(&list, list.text()),
            Err(e) => e.into(),
        }
    }
}

/// Fills in the parts of `tool` that depend on the configuration: its description, the
/// default model and `allow_duplicate` of the submit tool, the wait limit of the result tool.
fn describe(tool: &mut Tool, config: &Config) {
    let max_wait = config.max_wait.as_secs();
    let mut input = (*tool.input_schema).clone();
    let property = |input: &mut JsonObject, name: &str| {
        input
            .get_mut("properties")
            .and_then(|p| p.get_mut(name))
            .and_then(Value::as_object_mut)
            .cloned()
    };
    let description = match tool.name.as_ref() {
        GENERATE_TOOL => {
            if let Some(mut model) = property(&mut input, "model") {
                model.insert("default".into(), json!(config.default_model));
                set_property(&mut input, "model", model);
            }
            set_property(
                &mut input,
                "allow_duplicate",
                json!({
                    "type": "boolean",
                    "default": false,
                    "description": "Submit even if an identical request was submitted recently (that pays for a second video). Leave false when retrying."
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            );
            format!(
                "Generate a short video (4-8 s) that transitions from a first frame to a last frame, guided by a prompt (Google Veo 3.1 via JieKou AI). \
Frames can be http(s) URLs, local file paths on the server's machine, data: URLs, or Base64 (JPEG or PNG, at most 20 MB each; ideally the same aspect ratio as the video). \
Costs money per video: call it once per video the user wants, never as a retry. It returns a task_id immediately; generation then takes from under a minute to several minutes. \
Next, call {RESULT_TOOL} with the task_id and wait_seconds (up to {max_wait}) until it reports done. \
A client that declared the MCP Tasks extension gets a task instead: poll tasks/get until it is completed; its result is what {RESULT_TOOL} reports (a failed video is a result with isError). tasks/cancel cannot stop a video once submitted (it is paid): it is acknowledged, the video is still made and saved, and the task still completes. \
Repeating an identical request (same frames, prompt and parameters) within {} s returns the earlier task (deduplicated: true) instead of paying again; set allow_duplicate: true only when the user really wants another video from the same input. Default model: {}.",
                config.dedup_window.as_secs(),
                config.default_model
            )
        }
        RESULT_TOOL => {
            if let Some(mut wait) = property(&mut input, "wait_seconds") {
                wait.insert("maximum".into(), json!(max_wait));
                wait.insert("default".into(), json!(DEFAULT_WAIT_SECONDS.min(max_wait)));
                set_property(&mut input, "wait_seconds", wait);
            }
            format!(
                "Check a video task started by {GENERATE_TOOL}, optionally waiting up to wait_seconds (0 = just look, at most {max_wait}) for it to finish, with progress notifications meanwhile. \
Returns the status (queued, processing, succeeded, failed), progress, eta, the failure reason, and each video's URL with its expiry time (links expire about an hour after generation). \
Safe to call repeatedly; it never submits anything or costs money."
            )
        }
        LIST_TOOL => String::from(
            "List recent video tasks from this server's journal, newest first, with status, prompt excerpt, creation time, video links and saved files. \
Use it to find a task_id that was lost, or to check a submit whose outcome was unknown before submitting again. Filter by status; it never contacts the platform or costs money.",
        ),
        _ => return,
    };
    tool.description = Some(description.into());
    tool.input_schema = Arc::new(input);
}

fn set_property(schema: &mut JsonObject, name: &str, value: JsonObject) {
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert(name.into(), Value::Object(value));
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VeoServer {
    /// The same for every request, so it is built once (stateless HTTP asks for it per call).
    fn get_info(&self) -> ServerConfig {
        static INFO: std::sync::OnceLock<ServerConfig> = std::sync::OnceLock::new();
        INFO.get_or_init(server_info).clone()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut tools = self.tool_router.list_all();
        if tasks::client_wants_tasks(&context) {
            // A finished task's result is get_task_result's: the schema admits both.
            let either =
                tasks::either_output_schema(&schema::<Submitted>(), &schema::<TaskReport>());
            for tool in tools.iter_mut().filter(|t| t.name == GENERATE_TOOL) {
                tool.output_schema = Some(Arc::new(either.clone()));
            }
        }
        if player::client_renders_views(context.client_capabilities().as_ref()) {
            player::link_tools(&mut tools);
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let cursor = request.and_then(|r| r.cursor);
        let mut page = resources::list(&self.app, cursor.as_deref()).await?;
        // The player heads the first page, for hosts that render it.
        if cursor.is_none() && player::client_renders_views(context.client_capabilities().as_ref())
        {
            page.resources.insert(0, player::listed(self.app.config()));
        }
        Ok(page)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri == player::PLAYER_URI {
            return Ok(player::read(self.app.config()).into());
        }
        Ok(resources::read(&self.app, &request.uri).await?.into())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        tasks::require_extension(&context)?;
        tasks::get(&self.app, &request.task_id).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        tasks::require_extension(&context)?;
        tasks::acknowledge(&self.app, &request.task_id, "tasks/cancel").await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        tasks::require_extension(&context)?;
        tasks::acknowledge(&self.app, &request.task_id, "tasks/update").await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !self.tool_router.has_route(&request.name) {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool \"{}\"; the tools are {GENERATE_TOOL}, {RESULT_TOOL} and {LIST_TOOL}",
                    request.name.chars().take(64).collect::<String>()
                ),
                None,
            ));
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }
}

/// What the server says about itself at `initialize`.
fn server_info() -> ServerConfig {
    let mut capabilities = ServerCapabilities::builder()
        .enable_tools()
        .enable_tasks()
        .enable_resources()
        .build();
    capabilities
        .extensions
        .get_or_insert_with(Default::default)
        .insert(
            player::EXTENSION_ID.to_string(),
            json!({ "mimeTypes": [player::MIME_TYPE] })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
    InitializeResult::new(capabilities)
        .with_server_info(
            Implementation::new("veo", env!("CARGO_PKG_VERSION"))
                .with_title("Veo transition videos"),
        )
        .with_instructions(INSTRUCTIONS)
}
