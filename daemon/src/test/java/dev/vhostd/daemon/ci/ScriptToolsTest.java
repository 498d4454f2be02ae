package dev.vhostd.daemon.ci;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CI on a fresh machine: every program the project's scripts call must come from a package that
 * scripts/install-test-deps.sh installs, or from the base system. A machine where someone once
 * installed a tool by hand hides a missing package; this test does not, because it asks dpkg which
 * package owns each tool and whether the install script would bring that package.
 */
class ScriptToolsTest {
    private static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.isRegularFile(p.resolve("scripts/install-test-deps.sh"))) {
            p = p.getParent();
        }
        return p;
    }

    /** The scripts' tools, parsed once for the class (shfmt per script is the slow part). */
    private static List<ScriptTools.Use> uses;

    @org.junit.jupiter.api.BeforeAll
    static void parseScripts() throws Exception {
        uses = new ScriptTools(root()).uses();
    }

    private static List<String> listed() throws Exception {
        return ScriptTools.listedPackages(Files.readString(root().resolve("scripts/install-test-deps.sh")));
    }

    @Test
    void everyToolAScriptCallsIsInstalledByTheDepsScriptOrTheBaseSystem() throws Exception {
        ScriptTools tools = new ScriptTools(root());
        List<ScriptTools.Finding> findings = tools.check(uses, listed());
        assertTrue(findings.isEmpty(), findings.size() + " tool(s) a fresh machine would lack:\n"
                + findings.stream().map(ScriptTools.Finding::message).collect(Collectors.joining("\n")));
    }

    @Test
    void withoutKmodInTheListTheCheckNamesModinfoAndKmod() throws Exception {
        ScriptTools tools = new ScriptTools(root());
        List<String> withoutKmod = new ArrayList<>(listed());
        assertTrue(withoutKmod.remove("kmod"), "kmod is expected in install-test-deps.sh");
        List<ScriptTools.Finding> findings = tools.check(uses, withoutKmod);
        ScriptTools.Finding modinfo = findings.stream().filter(f -> f.use().tool().equals("modinfo")).findFirst()
                .orElseThrow(() -> new AssertionError("modinfo not reported without kmod: " + findings));
        assertEquals("kmod", modinfo.packageName());
        assertTrue(modinfo.message().contains("scripts/guest/prepare.sh") && modinfo.message().contains("add kmod"),
                modinfo.message());
    }

    @Test
    void theParserFindsCommandsWhereTheShellRunsThemAndNowhereElse() throws Exception {
        Path dir = Files.createTempDirectory("script-tools");
        try {
            Files.createDirectories(dir.resolve("scripts"));
            Files.writeString(dir.resolve("scripts/t.sh"), String.join("\n",
                    "#!/usr/bin/env bash",
                    "# comment mentioning modinfo and rsync",
                    "x=$(dirname \"$0\")",
                    "SUDO=()",
                    "\"${SUDO[@]}\" numfmt --from=iec 1K",
                    "tool=(cpio -o)",
                    "\"${tool[@]}\" </dev/null",
                    "case $x in on|off) echo \"$(basename x)\" ;; esac",
                    "helper() { sha256sum /dev/null; }",
                    "helper",
                    "command -v flock >/dev/null",
                    "cat <<EOF",
                    "insmod foo.ko",
                    "EOF",
                    "echo 'zstd in quotes'",
                    ""));
            List<String> found = new ScriptTools(dir).uses().stream().map(ScriptTools.Use::tool).toList();
            assertEquals(List.of("dirname", "numfmt", "cpio", "basename", "sha256sum", "flock", "cat"),
                    found.stream().filter(t -> !t.equals("echo")).toList(), "found " + found);
            for (String never : List.of("modinfo", "rsync", "on", "off", "insmod", "zstd", "helper")) {
                assertFalse(found.contains(never), never + " is not a command there: " + found);
            }
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
