fn main() -> std::process::ExitCode {
    allele::cli::main()
}
