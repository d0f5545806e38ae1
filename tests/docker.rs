//! The Docker files without a Docker engine: the image's build context compiles, and
//! `docker-compose.yml` names services, volumes and settings that exist.
//!
//! The build context is reproduced from the Dockerfile's own `COPY` lines, with
//! `.dockerignore` applied, under `<target dir>/docker-context/`, and `cargo check --locked
//! --offline --bin hookd` runs there against the same target dir (only hookd itself is checked
//! again, and only when a file changed; no network). Settings
//! are checked against the README's table and the built binary's `hookd serve --help`.
//! What the image does at run time (users, ports) is not checked here.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    fs::read_to_string(repo().join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

/// A Dockerfile's instructions, continuation lines joined, comments dropped.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => {
                current.push_str(start);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// `COPY <sources..> <dest>` lines that read the build context (not `--from=` another stage).
fn context_copies(dockerfile: &str) -> Vec<(Vec<String>, String)> {
    instructions(dockerfile)
        .iter()
        .filter_map(|instruction| {
            let mut words = instruction.split_whitespace();
            if !words.next()?.eq_ignore_ascii_case("COPY") {
                return None;
            }
            let mut args: Vec<String> = words.map(str::to_string).collect();
            if args.iter().any(|arg| arg.starts_with("--from=")) {
                return None;
            }
            args.retain(|arg| !arg.starts_with("--"));
            let dest = args.pop()?;
            Some((args, dest))
        })
        .collect()
}

/// `.dockerignore` as Docker reads it: patterns in order, `!` re-includes, the last match wins,
/// and a pattern matching a directory matches everything below it.
struct DockerIgnore {
    patterns: Vec<(bool, String)>,
}

impl DockerIgnore {
    fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| match line.strip_prefix('!') {
                Some(pattern) => (false, pattern.trim().trim_start_matches('/').to_string()),
                None => (true, line.trim_start_matches('/').to_string()),
            })
            .collect();
        DockerIgnore { patterns }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (exclude, pattern) in &self.patterns {
            let mut prefixes = path.match_indices('/').map(|(i, _)| &path[..i]);
            if glob(pattern, path) || prefixes.any(|parent| glob(pattern, parent)) {
                excluded = *exclude;
            }
        }
        excluded
    }

    /// Whether an exception (`!pattern`) lets something inside the folder `dir` back in.
    fn reopens_inside(&self, dir: &str) -> bool {
        let inside = format!("{dir}/");
        self.patterns
            .iter()
            .any(|(exclude, pattern)| !exclude && pattern.starts_with(&inside))
    }

    /// The outermost paths under `dir` (named `prefix` in the context) that reach the context:
    /// an entry let in counts whole; an excluded folder is searched only when an exception
    /// reaches inside it.
    fn sent(&self, dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).expect("reading a folder of the repository") {
            let entry = entry.expect("an entry");
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if !self.excludes(&name) {
                out.insert(name);
            } else if entry.path().is_dir() && self.reopens_inside(&name) {
                self.sent(&entry.path(), &format!("{name}/"), out);
            }
        }
    }
}

/// Go's `filepath.Match` with Docker's `**`: `*` and `?` stop at `/`, `**` does not.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p {
        [] => t.is_empty(),
        ['*', '*', rest @ ..] => {
            let rest = rest.strip_prefix(&['/']).unwrap_or(rest);
            (0..=t.len()).any(|i| glob_at(rest, &t[i..]))
        }
        ['*', rest @ ..] => (0..=t.len())
            .take_while(|&i| i == 0 || t[i - 1] != '/')
            .any(|i| glob_at(rest, &t[i..])),
        ['?', rest @ ..] => t.first().is_some_and(|&c| c != '/') && glob_at(rest, &t[1..]),
        [c, rest @ ..] => t.first() == Some(c) && glob_at(rest, &t[1..]),
    }
}

/// Copies `from` (a file or a directory's contents) to `to`, leaving out what is ignored;
/// returns how many files were copied.
fn copy_context(ignore: &DockerIgnore, rel: &str, to: &Path) -> usize {
    let from = repo().join(rel);
    if from.is_dir() {
        let mut copied = 0;
        for entry in fs::read_dir(&from).unwrap_or_else(|e| panic!("reading {rel}: {e}")) {
            let name = entry.expect("a directory entry").file_name();
            let name = name.to_string_lossy();
            let child = format!("{}/{name}", rel.trim_end_matches('/'));
            copied += copy_context(ignore, &child, &to.join(&*name));
        }
        copied
    } else if from.is_file() && !ignore.excludes(rel) {
        fs::create_dir_all(to.parent().expect("a parent")).expect("creating a directory");
        fs::copy(&from, to).unwrap_or_else(|e| panic!("copying {rel}: {e}"));
        // The source's mtime, so that cargo finds an unchanged context fresh and checks
        // nothing again.
        let modified = fs::metadata(&from).and_then(|m| m.modified());
        let copy = fs::File::options().write(true).open(to);
        copy.and_then(|file| file.set_modified(modified?))
            .unwrap_or_else(|e| panic!("dating {rel}: {e}"));
        1
    } else {
        0
    }
}

/// The files the Dockerfile's build stage sees, laid out under `root` as its `WORKDIR`.
fn build_context(root: &Path) {
    let ignore = DockerIgnore::parse(&read(".dockerignore"));
    for (sources, dest) in context_copies(&read("Dockerfile")) {
        assert!(
            !dest.starts_with('/'),
            "COPY {sources:?} {dest}: this check knows destinations relative to WORKDIR only"
        );
        let into_dir = dest.ends_with('/') || sources.len() > 1;
        for source in &sources {
            let source = source.trim_end_matches('/');
            let target = if into_dir {
                let name = Path::new(source).file_name().expect("a source name");
                root.join(&dest).join(name)
            } else {
                root.join(&dest)
            };
            let copied = copy_context(&ignore, source, &target);
            assert!(
                copied > 0,
                "COPY {source}: nothing to copy (missing, or left out by .dockerignore)"
            );
        }
    }
}

/// The target dir this test was built in, so that only hookd itself is checked again.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("the test's path");
    // <target>/<profile>/deps/docker-<hash>
    exe.ancestors()
        .nth(3)
        .expect("a test binary inside a target dir")
        .to_path_buf()
}

#[test]
fn the_docker_build_context_compiles_the_binary() {
    // One fixed place per checkout, not a fresh temp dir: cargo then reuses its last check of
    // an unchanged context instead of adding another copy of hookd to the target dir.
    let checkout = repo().to_string_lossy().replace(['/', '\\', ':'], "_");
    let context = target_dir().join("docker-context").join(checkout);
    if context.exists() {
        fs::remove_dir_all(&context).expect("removing the last context");
    }
    build_context(&context);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());

    let mut check = Command::new(cargo);
    check
        .args([
            "check",
            "--locked",
            "--offline",
            "--bin",
            "hookd",
            "--quiet",
        ])
        .current_dir(&context);
    // Cargo gives this test its package's variables (CARGO_MANIFEST_DIR, ..); build scripts
    // that watch them would be built again, here and in every later build of the target dir.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" {
            check.env_remove(&*name);
        }
    }
    check.env("CARGO_TARGET_DIR", target_dir());
    let output = check.output().expect("running cargo");

    assert!(
        output.status.success(),
        "the Docker build context (Dockerfile COPY lines, .dockerignore) does not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_build_context_holds_what_the_dockerfile_copies_and_nothing_else() {
    let ignore = DockerIgnore::parse(&read(".dockerignore"));
    let copied: BTreeSet<String> = context_copies(&read("Dockerfile"))
        .into_iter()
        .flat_map(|(sources, _)| sources)
        .map(|source| source.trim_end_matches('/').to_string())
        .collect();
    let mut sent = BTreeSet::new();
    ignore.sent(repo(), "", &mut sent);
    // Docker reads the Dockerfile and .dockerignore itself, whatever .dockerignore says.
    for always in ["Dockerfile", ".dockerignore"] {
        sent.remove(always);
    }

    assert_eq!(
        sent, copied,
        "what .dockerignore lets into the build context differs from what the Dockerfile copies"
    );
}

#[test]
fn dockerignore_patterns_match_as_docker_reads_them() {
    let ignore = DockerIgnore::parse("*\n!src\n!Cargo.*\nsrc/**/*.bak\n");
    let cases = [
        ("target/debug/hookd", true),
        ("src/main.rs", false),
        ("src/api/mod.rs", false),
        ("src/api/old.bak", true),
        ("Cargo.lock", false),
        ("docs/x.md", true),
    ];
    for (path, excluded) in cases {
        assert_eq!(ignore.excludes(path), excluded, "{path}");
    }
}

fn compose() -> Value {
    serde_norway::from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML")
}

fn services(compose: &Value) -> &serde_norway::Mapping {
    compose["services"]
        .as_mapping()
        .expect("docker-compose.yml has services")
}

fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Every `HOOKD_*` name the compose file and the Dockerfile set.
fn hookd_names() -> BTreeSet<String> {
    let compose = compose();
    let mut names: BTreeSet<String> = services(&compose)
        .values()
        .filter_map(|service| service["environment"].as_mapping())
        .flat_map(|environment| environment.keys().map(str_of))
        .filter(|name| name.starts_with("HOOKD_"))
        .collect();
    for instruction in instructions(&read("Dockerfile")) {
        if let Some(rest) = instruction.strip_prefix("ENV ") {
            names.extend(
                rest.split_whitespace()
                    .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.to_string()))
                    .filter(|name| name.starts_with("HOOKD_")),
            );
        }
    }
    names
}

#[test]
fn compose_settings_are_in_the_readme_table_and_in_serve_help() {
    let readme = read("README.md");
    let (begin, end) = ("<!-- settings:begin -->", "<!-- settings:end -->");
    let table = &readme[readme.find(begin).expect("settings markers")..readme.find(end).unwrap()];
    let help = Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(["serve", "--help"])
        .output()
        .expect("running hookd serve --help");
    let help = String::from_utf8_lossy(&help.stdout);

    let names = hookd_names();

    assert!(names.contains("HOOKD_LISTEN"), "{names:?}");
    for name in &names {
        assert!(
            table.contains(&format!("`{name}`")),
            "{name} is not in the README settings table"
        );
        assert!(
            help.contains(&format!("[env: {name}=")) || help.contains(&format!("[env: {name}]")),
            "{name} is not a setting of `hookd serve --help`"
        );
    }
}

#[test]
fn compose_services_refer_to_each_other_and_to_declared_volumes() {
    let compose = compose();
    let services = services(&compose);
    let names: BTreeSet<String> = services.keys().map(str_of).collect();
    for expected in ["hookd", "mongodb", "rabbitmq"] {
        assert!(names.contains(expected), "no {expected} service: {names:?}");
    }
    let volumes: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .map(|m| m.keys().map(str_of).collect())
        .unwrap_or_default();
    for (name, service) in services {
        let name = str_of(name);
        if let Some(depends) = service["depends_on"].as_mapping() {
            for dependency in depends.keys().map(str_of) {
                assert!(
                    names.contains(&dependency),
                    "{name} depends on {dependency}"
                );
            }
        }
        for mount in service["volumes"].as_sequence().into_iter().flatten() {
            let mount = str_of(mount);
            let source = mount.split(':').next().unwrap_or_default();
            let named = !source.starts_with(['.', '/', '~']);
            assert!(
                !named || volumes.contains(source),
                "{name} mounts volume {source}, not declared under volumes"
            );
        }
    }
}

#[test]
fn compose_hookd_reaches_its_services_and_is_reached_on_its_listen_port() {
    let compose = compose();
    let hookd = &services(&compose)["hookd"];
    assert_eq!(
        str_of(&hookd["build"]),
        ".",
        "hookd is built from the Dockerfile"
    );
    let env = |name: &str| str_of(&hookd["environment"][name]);

    let listen_port = env("HOOKD_LISTEN").rsplit(':').next().unwrap().to_string();
    let ports: Vec<String> = hookd["ports"]
        .as_sequence()
        .expect("hookd publishes a port")
        .iter()
        .map(str_of)
        .collect();
    assert!(
        ports
            .iter()
            .any(|p| p.ends_with(&format!(":{listen_port}"))),
        "no published port is HOOKD_LISTEN's {listen_port}: {ports:?}"
    );
    let health = serde_norway::to_string(&hookd["healthcheck"]["test"]).unwrap();
    assert!(
        health.contains(&format!("/dev/tcp/127.0.0.1/{listen_port}")),
        "the healthcheck does not ask port {listen_port}: {health}"
    );

    for (name, service) in [
        ("HOOKD_MONGODB_URI", "mongodb"),
        ("HOOKD_AMQP_URL", "rabbitmq"),
    ] {
        let url = env(name);
        let authority = url.split("://").nth(1).unwrap_or_default();
        let authority = authority.split('/').next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        let host = host.split(':').next().unwrap_or_default();
        assert_eq!(
            host, service,
            "{name}={url} does not name the {service} service"
        );
    }
}

#[test]
fn compose_gives_hookd_twice_its_shutdown_grace_before_sigkill() {
    let compose = compose();
    let hookd = &services(&compose)["hookd"];
    let grace: u64 = str_of(&hookd["environment"]["HOOKD_SHUTDOWN_GRACE_SECS"])
        .parse()
        .expect("HOOKD_SHUTDOWN_GRACE_SECS is a number of seconds");
    let stop = str_of(&hookd["stop_grace_period"]);
    let stop: u64 = stop
        .strip_suffix('s')
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("stop_grace_period {stop} is not whole seconds"));

    // Requests drain first, then fires and loops, each for up to the grace (docs/configuration.md).
    assert!(
        stop > 2 * grace,
        "stop_grace_period {stop}s does not outlast two shutdown graces of {grace}s"
    );
}
