//! The command line's parsing: flags, environment and defaults into configuration and requests.
use super::*;

#[test]
fn cli_is_well_formed() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn flags_resolve() {
    let cli = Cli::parse_from([
        "veo-mcp",
        "serve",
        "--http",
        "127.0.0.1:0",
        "--default-model",
        "veo-3.1-lite",
        "--allowed-roots",
        "/a:/b",
        "--max-wait-seconds",
        "20",
        "--base-url",
        "http://127.0.0.1:9/",
    ]);
    let config = cli.common.config().unwrap();
    assert_eq!(config.default_model, Model::Veo31Lite);
    assert_eq!(
        config.image_policy.allowed_roots,
        [PathBuf::from("/a"), PathBuf::from("/b")]
    );
    assert_eq!(config.max_wait, Duration::from_secs(20));
    assert_eq!(config.client.base_url, "http://127.0.0.1:9");
    assert!(matches!(
        cli.command,
        Some(Command::Serve(ServeArgs { http: Some(_), .. }))
    ));
    assert!(Cli::try_parse_from(["veo-mcp", "--default-model", "veo-2"]).is_err());
}

#[test]
fn workers_are_the_runtimes_unless_told() {
    assert_eq!(Cli::parse_from(["veo-mcp"]).common.workers, None);
    let cli = Cli::parse_from(["veo-mcp", "serve", "--workers", "1"]);
    assert_eq!(cli.common.workers, Some(1));
    for bad in ["0", "257", "two"] {
        let e = Cli::try_parse_from(["veo-mcp", "--workers", bad]).unwrap_err();
        assert!(e.to_string().contains("--workers"), "{e}");
    }
}

#[test]
fn generate_options_become_a_typed_request() {
    let cli = Cli::parse_from([
        "veo-mcp",
        "generate",
        "--first",
        "a.png",
        "--last",
        "b.png",
        "--prompt",
        "p",
        "--resolution",
        "1080p",
        "--duration",
        "6",
        "--aspect-ratio",
        "9:16",
        "--person-generation",
        "dont_allow",
        "--generate-audio",
    ]);
    let Some(Command::Generate(args)) = cli.command else {
        panic!("generate")
    };
    let request = args.request(Model::Veo31Fast);
    assert_eq!(request.model, Model::Veo31Fast, "the default model applies");
    assert_eq!(request.resolution, Resolution::P1080);
    assert_eq!(request.duration_seconds, DurationSeconds::Seconds6);
    assert_eq!(request.aspect_ratio, AspectRatio::Portrait);
    assert_eq!(request.person_generation, PersonGeneration::DontAllow);
    assert!(request.generate_audio);
    assert!(
        Cli::try_parse_from([
            "veo-mcp",
            "generate",
            "--first",
            "a",
            "--last",
            "b",
            "--prompt",
            "p",
            "--duration",
            "5"
        ])
        .is_err()
    );
    assert_eq!(option_for("sample_count"), "--sample-count");
    assert_eq!(option_for("last_image"), "--last");
}
