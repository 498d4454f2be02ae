package dev.vhostd.daemon;

import dev.vhostd.daemon.logging.LogFormat;
import dev.vhostd.daemon.logging.LogLevel;
import dev.vhostd.daemon.logging.LogSetup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** The vhostd command: a vhost-user block device backend. */
@Command(name = "vhostd", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "vhost-user block storage daemon: serves a virtio-blk disk to QEMU over a UNIX socket.",
        subcommands = {ServeCommand.class, dev.vhostd.daemon.ctl.CtlCommand.class, dev.vhostd.daemon.bench.BenchCommand.class,
                dev.vhostd.daemon.bench.DensityCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    // INHERIT: every subcommand takes them too (vhostd serve --log-level debug); read in main().
    @Option(names = "--log-level", paramLabel = "LEVEL", scope = ScopeType.INHERIT, defaultValue = "info",
            description = "error, warn, info, debug or trace (default: ${DEFAULT-VALUE}).")
    LogLevel logLevel;

    @Option(names = "--log-format", paramLabel = "FORMAT", scope = ScopeType.INHERIT, defaultValue = "text",
            description = "text (one line per record; under systemd, journal priorities and no timestamp) "
                    + "or json (one object per line) (default: ${DEFAULT-VALUE}).")
    LogFormat logFormat;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "missing command: try 'vhostd serve --socket /run/vhostd/disk.sock --backend memory:1G'");
    }

    /**
     * Errors an operator can fix (a busy socket, a missing file, a bad size, a refused syscall) are
     * one line on stderr and exit status 1; anything else is a bug and keeps its stack trace.
     */
    private static int operatorError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) throws Exception {
        if (e instanceof java.io.IOException || e instanceof IllegalArgumentException
                || e instanceof IllegalStateException || e instanceof dev.vhostd.sys.ErrnoException
                || e instanceof dev.vhostd.backend.BackendOpenException
                || e instanceof dev.vhostd.daemon.disk.DiskException) {
            cmd.getErr().println("vhostd: " + e.getMessage());
            return 1;
        }
        throw e;
    }

    /**
     * A command line that cannot be parsed or converted (an unknown option, {@code --metrics
     * 127.0.0.1:99999}) is an operator error like any other: one line naming the option and what is
     * wrong, a pointer to --help, exit status 1. The full usage text would bury the line that matters.
     */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        String help = cmd.getCommandSpec().qualifiedName() + " --help";
        cmd.getErr().println("vhostd: " + e.getMessage() + " (see '" + help + "')");
        return 1;
    }

    /** Sets up logging from the last --log-level/--log-format given at any command level, then runs. */
    private static int configureLoggingAndRun(CommandLine.ParseResult parsed) {
        LogLevel level = LogLevel.INFO;
        LogFormat format = LogFormat.TEXT;
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            level = p.matchedOptionValue("--log-level", level);
            format = p.matchedOptionValue("--log-format", format);
        }
        LogSetup.configureFromEnvironment(level, format);
        return new CommandLine.RunLast().execute(parsed);
    }

    public static void main(String[] args) {
        int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionStrategy(Main::configureLoggingAndRun)
                .setExecutionExceptionHandler(Main::operatorError).setParameterExceptionHandler(Main::usageError)
                .execute(args);
        System.exit(code);
    }
}
