//! `fleetjobs`: runs a Spin application on wasmtime. See [`fleetjobs::cli`].

fn main() -> std::process::ExitCode {
    fleetjobs::cli::main()
}
