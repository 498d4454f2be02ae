package dev.vhostd.daemon.ci;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import dev.vhostd.daemon.testing.Json;

/**
 * Which programs the project's scripts call, and whether a fresh Debian machine that ran
 * scripts/install-test-deps.sh has each of them. A script is parsed with shfmt (a real shell
 * parser: command substitutions, case patterns, heredocs and quoting are understood, not guessed),
 * and each command name is mapped to its Debian package with dpkg -S. A program is provided when
 * its package is named by install-test-deps.sh (or is a hard dependency of one that is), is part of
 * the base system (Essential, or Priority required), or belongs to the JDK or Maven the machine
 * comes with. Everything else is a {@link Finding} that says what to add.
 */
public final class ScriptTools {
    /** A program one of the scripts calls, where it is first called. */
    public record Use(String tool, Path script, int line) {}

    /** A program a fresh machine would lack, and what to do about it. */
    public record Finding(Use use, String packageName, String message) {}

    /** Wrappers whose next non-option word is the command they run. */
    private static final Set<String> WRAPPERS = Set.of("exec", "sudo", "nohup", "env", "time", "xargs", "nice",
            "setsid", "command", "builtin", "chroot", "stdbuf", "taskset", "ionice", "prlimit", "setpriv", "unshare");
    /** Commands whose arguments are program names they look up. */
    private static final Set<String> LOOKUPS = Set.of("type", "hash", "which");
    /**
     * The marker for tools a script uses only when present (it checks with command -v first) or that
     * only its operator needs (a script CI never runs): CI need not install them.
     */
    static final String OPTIONAL = "# optional-tools:";

    private final Path root;

    public ScriptTools(Path root) {
        this.root = root;
    }

    /** scripts/**, bench/*.sh, packaging/* and .ci/run that are shell scripts. */
    public List<Path> scripts() throws IOException {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root.resolve("scripts"))) {
            s.filter(Files::isRegularFile).filter(ScriptTools::isShell).sorted().forEach(out::add);
        }
        for (String dir : new String[] {"bench", "packaging"}) {
            Path d = root.resolve(dir);
            if (Files.isDirectory(d)) {
                try (Stream<Path> s = Files.list(d)) {
                    s.filter(Files::isRegularFile).filter(ScriptTools::isShell)
                            .filter(p -> !dir.equals("bench") || p.toString().endsWith(".sh")).sorted().forEach(out::add);
                }
            }
        }
        Path ci = root.resolve(".ci/run");
        if (Files.isRegularFile(ci)) {
            out.add(ci);
        }
        return out;
    }

    static boolean isShell(Path p) {
        if (p.toString().endsWith(".sh")) {
            return true;
        }
        try {
            String first = Files.readAllLines(p, StandardCharsets.ISO_8859_1).stream().findFirst().orElse("");
            return first.startsWith("#!") && first.matches("#!\\S*(/|env )(ba|da)?sh\\b.*");
        } catch (IOException e) {
            return false;
        }
    }

    /** The packages install-test-deps.sh names: the first word of each line of its packages=( ... ) array. */
    public static List<String> listedPackages(String installScript) {
        Matcher m = Pattern.compile("(?ms)^packages=\\((.*?)^\\)").matcher(installScript);
        if (!m.find()) {
            throw new IllegalStateException("install-test-deps.sh has no packages=( ... ) list");
        }
        List<String> out = new ArrayList<>();
        for (String line : m.group(1).split("\n")) {
            String code = line.replaceAll("#.*", "").strip();
            for (String w : code.split("\\s+")) {
                if (!w.isEmpty()) {
                    out.add(w);
                }
            }
        }
        return out;
    }

    /**
     * A file a script sources by a repository path ({@code . "$root/bench/lib.sh"}): its functions
     * count as the script's, and the script's as its (a library calls its sourcer's {@code die}).
     */
    private static final Pattern SOURCES = Pattern.compile("(?m)^\\s*(?:\\.|source)\\s+\"?\\$root/([\\w./-]+)\"?\\s*$");

    /** Every program each script calls, in script order (first use of each per script). */
    public List<Use> uses() throws IOException, InterruptedException {
        Map<Path, Collector> parsed = new LinkedHashMap<>();
        Map<Path, Set<String>> exempts = new HashMap<>();
        Map<Path, Set<Path>> related = new HashMap<>();
        for (Path script : scripts()) {
            String text = Files.readString(script, StandardCharsets.ISO_8859_1);
            Set<String> exempt = new HashSet<>();
            for (String line : text.split("\n")) {
                if (line.startsWith(OPTIONAL)) {
                    exempt.addAll(List.of(line.substring(OPTIONAL.length()).replaceAll("\\(.*", "").strip().split("\\s+")));
                }
            }
            exempts.put(script, exempt);
            Matcher sourced = SOURCES.matcher(text);
            while (sourced.find()) {
                Path lib = root.resolve(sourced.group(1)).normalize();
                related.computeIfAbsent(script, k -> new HashSet<>()).add(lib);
                related.computeIfAbsent(lib, k -> new HashSet<>()).add(script);
            }
            String json;
            try {
                json = run(List.of("shfmt", "-ln", dialect(text), "--tojson"), text,
                        "shfmt could not parse " + root.relativize(script));
            } catch (IOException e) {
                if (String.valueOf(e.getMessage()).contains("Cannot run program")) {
                    throw new IOException("shfmt, the shell parser this check reads the scripts with, is missing:"
                            + " run scripts/install-test-deps.sh (it installs the Debian package shfmt)", e);
                }
                throw e;
            }
            Map<String, Object> ast = Json.object(Json.parse(json));
            Collector c = new Collector();
            c.collectDeclarations(ast);
            c.walk(ast);
            parsed.put(script, c);
        }
        List<Use> out = new ArrayList<>();
        for (Map.Entry<Path, Collector> p : parsed.entrySet()) {
            Path script = p.getKey();
            Collector c = p.getValue();
            Set<String> functions = new HashSet<>(c.functions);
            for (Path other : related.getOrDefault(script, Set.of())) {
                Collector o = parsed.get(other);
                if (o != null) {
                    functions.addAll(o.functions);
                }
            }
            for (Map.Entry<String, Integer> e : c.calls.entrySet()) {
                String base = Path.of(e.getKey()).getFileName().toString();
                // The project's own programs (the launchers in packaging/ and the repository root).
                boolean ours = e.getKey().startsWith("/") && (Files.isRegularFile(root.resolve("packaging").resolve(base))
                        || Files.isRegularFile(root.resolve(base)));
                if (!functions.contains(e.getKey()) && !exempts.get(script).contains(e.getKey()) && !ours) {
                    out.add(new Use(e.getKey(), root.relativize(script), e.getValue()));
                }
            }
        }
        return out;
    }

    private static String dialect(String text) {
        String first = text.lines().findFirst().orElse("");
        return first.matches("#!\\S*(/|env )(da)?sh\\b.*") ? "posix" : "bash";
    }

    /** Walks shfmt's JSON syntax tree and records command names with their line. */
    private static final class Collector {
        final Map<String, Integer> calls = new LinkedHashMap<>();
        final Set<String> functions = new HashSet<>();
        /** Array variables: the first word of each literal assignment ("" for an empty array). */
        final Map<String, List<String>> arrays = new HashMap<>();

        void collectDeclarations(Object node) {
            if (node instanceof Map<?, ?> m) {
                if ("FuncDecl".equals(m.get("Type")) && m.get("Name") instanceof Map<?, ?> n) {
                    functions.add(String.valueOf(n.get("Value")));
                }
                if (m.get("Array") instanceof Map<?, ?> arr && m.get("Name") instanceof Map<?, ?> n) {
                    String first = "";
                    if (arr.get("Elems") instanceof List<?> elems && !elems.isEmpty()
                            && elems.get(0) instanceof Map<?, ?> el) {
                        String w = literal(el.get("Value"));
                        first = w == null ? "$" : w;
                    }
                    arrays.computeIfAbsent(String.valueOf(n.get("Value")), k -> new ArrayList<>()).add(first);
                }
                m.values().forEach(this::collectDeclarations);
            } else if (node instanceof List<?> l) {
                l.forEach(this::collectDeclarations);
            }
        }

        void walk(Object node) {
            if (node instanceof Map<?, ?> m) {
                if ("CallExpr".equals(m.get("Type")) && m.get("Args") instanceof List<?> args && !args.isEmpty()) {
                    call(args, 0);
                }
                m.values().forEach(this::walk);
            } else if (node instanceof List<?> l) {
                l.forEach(this::walk);
            }
        }

        private void call(List<?> args, int i) {
            if (i >= args.size()) {
                return;
            }
            Object word = args.get(i);
            String name = literal(word);
            if (name == null) {
                String array = arrayExpansion(word);
                if (array != null && arrays.containsKey(array)) {
                    for (String first : arrays.get(array)) {
                        if (first.isEmpty()) {
                            call(args, i + 1); // "${SUDO[@]}" may be empty: the next word is the command
                        } else if (!first.equals("$")) {
                            record(first, word);
                        }
                    }
                }
                return;
            }
            if (name.startsWith("-") || name.contains("=") && !name.startsWith("/")) {
                return;
            }
            if (name.equals("command") && i + 1 < args.size() && "-v".equals(literal(args.get(i + 1)))) {
                for (int j = i + 2; j < args.size(); j++) {
                    lookup(args.get(j));
                }
                return;
            }
            if (LOOKUPS.contains(name)) {
                for (int j = i + 1; j < args.size(); j++) {
                    lookup(args.get(j));
                }
                if (!name.equals("which")) {
                    return;
                }
            }
            if (WRAPPERS.contains(name)) {
                if (!name.equals("exec") && !name.equals("command") && !name.equals("builtin") && !name.equals("time")) {
                    record(name, word);
                }
                int j = i + 1;
                while (j < args.size()) {
                    String a = literal(args.get(j));
                    boolean option = a != null && (a.startsWith("-") || a.contains("=") || a.matches("\\d+[smhd]?"));
                    // taskset's mask, chroot's directory: skip one positional argument.
                    if (!option && (name.equals("taskset") || name.equals("chroot")) && j == i + 1) {
                        option = true;
                    }
                    if (!option) {
                        break;
                    }
                    j++;
                }
                call(args, j);
                return;
            }
            record(name, word);
        }

        private void lookup(Object word) {
            String w = literal(word);
            if (w != null && !w.startsWith("-")) {
                record(w, word);
            }
        }

        private void record(String name, Object word) {
            if (name.isEmpty() || name.contains("$") || (name.contains("/") && !name.startsWith("/"))) {
                return; // a variable, or a project path like scripts/guest/prepare.sh
            }
            int line = word instanceof Map<?, ?> m && m.get("Pos") instanceof Map<?, ?> pos
                    ? ((Number) pos.get("Line")).intValue() : 0;
            calls.putIfAbsent(name, line);
        }

        /** The word's text if it is made only of literal parts (quoted or not), else null. */
        static String literal(Object word) {
            if (!(word instanceof Map<?, ?> w) || !(w.get("Parts") instanceof List<?> parts)) {
                return null;
            }
            StringBuilder sb = new StringBuilder();
            for (Object p : parts) {
                if (!(p instanceof Map<?, ?> part)) {
                    return null;
                }
                switch (String.valueOf(part.get("Type"))) {
                    case "Lit", "SglQuoted" -> sb.append(part.get("Value"));
                    case "DblQuoted" -> {
                        String inner = literal(part);
                        if (inner == null) {
                            return null;
                        }
                        sb.append(inner);
                    }
                    default -> {
                        return null;
                    }
                }
            }
            return sb.toString();
        }

        /** NAME if the word is exactly "${NAME[@]}" (or ${NAME[@]}), else null. */
        static String arrayExpansion(Object word) {
            if (!(word instanceof Map<?, ?> w) || !(w.get("Parts") instanceof List<?> parts) || parts.size() != 1) {
                return null;
            }
            Object p = parts.get(0);
            if (p instanceof Map<?, ?> dq && "DblQuoted".equals(dq.get("Type")) && dq.get("Parts") instanceof List<?> in
                    && in.size() == 1) {
                p = in.get(0);
            }
            if (p instanceof Map<?, ?> pe && "ParamExp".equals(pe.get("Type")) && pe.get("Index") != null
                    && pe.get("Param") instanceof Map<?, ?> param) {
                return String.valueOf(param.get("Value"));
            }
            return null;
        }
    }

    /** Installed packages as dpkg knows them. */
    private record Pkg(String name, boolean essential, String priority, List<List<String>> depends,
            List<String> provides) {}

    /**
     * Checks every use against the packages {@code listed} (normally {@link #listedPackages} of
     * scripts/install-test-deps.sh) and the base system; returns what a fresh machine would lack.
     */
    public List<Finding> check(List<Use> uses, List<String> listed) throws IOException, InterruptedException {
        Map<String, Pkg> installed = installedPackages();
        Map<String, List<String>> providers = new HashMap<>();
        for (Pkg p : installed.values()) {
            for (String v : p.provides()) {
                providers.computeIfAbsent(v, k -> new ArrayList<>()).add(p.name());
            }
        }
        // What installing the listed packages brings: them and their hard dependencies.
        Set<String> brought = new HashSet<>();
        List<String> todo = new ArrayList<>(listed);
        while (!todo.isEmpty()) {
            String n = todo.remove(todo.size() - 1);
            List<String> names = installed.containsKey(n) ? List.of(n) : providers.getOrDefault(n, List.of());
            for (String name : names) {
                if (brought.add(name)) {
                    for (List<String> alternatives : installed.get(name).depends()) {
                        // Any installed alternative satisfies it; apt picks the first it can.
                        alternatives.stream().filter(a -> installed.containsKey(a) || providers.containsKey(a))
                                .findFirst().ifPresent(todo::add);
                    }
                }
            }
        }
        List<Finding> out = new ArrayList<>();
        Map<String, String> types = shellTypes(uses.stream().map(Use::tool).distinct().toList());
        Map<String, String> owners = ownerIndex();
        for (Use u : uses) {
            String type = types.getOrDefault(u.tool(), "");
            if (type.equals("builtin") || type.equals("keyword")) {
                continue;
            }
            if (type.isEmpty()) {
                out.add(new Finding(u, null, u.tool() + " (called by " + u.script() + " line " + u.line()
                        + ") is not installed on this machine, so a fresh machine lacks it too: find its package with"
                        + " 'apt-file search bin/" + Path.of(u.tool()).getFileName() + "' (or dpkg -S on a machine that has it) and add it to"
                        + " the packages list in scripts/install-test-deps.sh"));
                continue;
            }
            // Every program of that name on PATH: a hand-installed one first on PATH here (a pyenv shim,
            // /usr/local/bin) does not hide the packaged one a fresh machine would run.
            String pkg = null;
            boolean provided = false;
            for (String path : type.split(":")) {
                String owner = owner(owners, path);
                if (isJdkOrMaven(path) || owner != null && isProvided(owner, installed, brought)) {
                    provided = true;
                    break;
                }
                if (pkg == null) {
                    pkg = owner;
                }
            }
            if (provided) {
                continue;
            }
            if (pkg == null) {
                out.add(new Finding(u, null, u.tool() + " (called by " + u.script() + " line " + u.line() + ") is "
                        + type + ", which no Debian package installed: a fresh machine lacks it; install it from a"
                        + " package and add that to the packages list in scripts/install-test-deps.sh"));
                continue;
            }
            Pkg p = installed.get(pkg);
            out.add(new Finding(u, pkg, u.tool() + " (called by " + u.script() + " line " + u.line()
                    + ") comes from the Debian package " + pkg + ", which scripts/install-test-deps.sh does not install"
                    + " and the base system lacks (priority " + (p == null ? "?" : p.priority()) + "): add " + pkg
                    + " to the packages list in scripts/install-test-deps.sh"
                    + " (only if the script runs it just when present, or CI never runs the script: name "
                    + u.tool() + " in a '" + OPTIONAL + "' line of " + u.script() + ")"));
        }
        return out;
    }

    private static boolean isProvided(String pkg, Map<String, Pkg> installed, Set<String> brought) {
        Pkg p = installed.get(pkg);
        boolean base = p != null && (p.essential() || "required".equals(p.priority()));
        return base || brought.contains(pkg) || isJdkOrMavenPackage(pkg);
    }

    private static boolean isJdkOrMaven(String path) {
        return path.startsWith("/usr/lib/jvm/") || path.startsWith("/usr/share/maven/") || path.startsWith("/opt/java/");
    }

    private static boolean isJdkOrMavenPackage(String pkg) {
        return pkg.equals("maven") || pkg.startsWith("openjdk-") || pkg.startsWith("temurin-")
                || pkg.startsWith("default-jdk") || pkg.startsWith("default-jre");
    }

    /**
     * For each name, bash's "type -t" answer ("builtin", "keyword"), the program's path, or "" when
     * there is none: one bash for all of them.
     */
    private static Map<String, String> shellTypes(List<String> tools) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", "for n; do t=$(type -t -- \"$n\") || t=;"
                + " if [ \"$t\" = file ]; then t=$(type -a -P -- \"$n\" | paste -sd:); fi; printf '%s\\t%s\\n' \"$n\" \"$t\"; done",
                "bash"));
        cmd.addAll(tools);
        Map<String, String> m = new HashMap<>();
        for (String line : run(cmd, "", "bash type -t failed").split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                m.put(line.substring(0, tab), line.substring(tab + 1).strip());
            }
        }
        return m;
    }

    /** Every installed program path (under a bin or sbin directory) and its package, from dpkg's file lists. */
    private static Map<String, String> ownerIndex() throws IOException {
        Map<String, String> m = new HashMap<>();
        try (Stream<Path> lists = Files.list(Path.of("/var/lib/dpkg/info"))) {
            for (Path list : lists.filter(p -> p.toString().endsWith(".list")).toList()) {
                String pkg = list.getFileName().toString().replaceAll("\\.list$", "").replaceAll(":.*", "");
                for (String path : Files.readAllLines(list, StandardCharsets.ISO_8859_1)) {
                    if (path.contains("bin/")) {
                        m.putIfAbsent(path, pkg);
                    }
                }
            }
        }
        return m;
    }

    /** The package that owns {@code path} (following symlinks and the merged-/usr aliases), or null. */
    private static String owner(Map<String, String> owners, String path) throws IOException {
        Set<String> candidates = new java.util.LinkedHashSet<>();
        candidates.add(path);
        candidates.add(Path.of(path).toRealPath().toString());
        for (String c : List.copyOf(candidates)) {
            candidates.add(c.startsWith("/usr/") ? c.substring(4) : "/usr" + c);
        }
        for (String c : candidates) {
            String pkg = owners.get(c);
            if (pkg != null) {
                return pkg;
            }
        }
        return null;
    }

    private static Map<String, Pkg> installedPackages() throws IOException, InterruptedException {
        String out = run(List.of("dpkg-query", "-W", "-f",
                "${db:Status-Abbrev}\\t${Package}\\t${Essential}\\t${Priority}\\t${Pre-Depends}\\t${Depends}\\t${Provides}\\n"),
                "", "dpkg-query failed");
        Map<String, Pkg> m = new TreeMap<>();
        for (String line : out.split("\n")) {
            String[] f = line.split("\t", -1);
            if (f.length < 7 || !f[0].startsWith("ii")) {
                continue;
            }
            List<List<String>> deps = new ArrayList<>();
            for (String field : new String[] {f[4], f[5]}) {
                for (String d : field.split(",")) {
                    List<String> alts = new ArrayList<>();
                    for (String a : d.split("\\|")) {
                        String n = a.strip().replaceAll("[ (].*", "").replaceAll(":.*", "");
                        if (!n.isEmpty()) {
                            alts.add(n);
                        }
                    }
                    if (!alts.isEmpty()) {
                        deps.add(alts);
                    }
                }
            }
            List<String> provides = new ArrayList<>();
            for (String p : f[6].split(",")) {
                String n = p.strip().replaceAll("[ (].*", "");
                if (!n.isEmpty()) {
                    provides.add(n);
                }
            }
            m.put(f[1], new Pkg(f[1], "yes".equals(f[2]), f[3], deps, provides));
        }
        return m;
    }

    /** Runs a command with {@code stdin}; returns stdout. A non-null {@code failure} makes a non-zero exit an error. */
    private static String run(List<String> cmd, String stdin, String failure) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.PIPE).start();
        Thread feeder = Thread.ofVirtual().start(() -> {
            try (var in = p.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.ISO_8859_1));
            } catch (IOException ignored) {
                // The command did not read its input (dpkg-query): nothing to deliver.
            }
        });
        byte[] err;
        String out;
        // Error output is short (one line of dpkg-query or shfmt): reading it second cannot block.
        out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        err = p.getErrorStream().readAllBytes();
        feeder.join();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish");
        }
        if (failure != null && p.exitValue() != 0) {
            throw new IOException(failure + " (exit " + p.exitValue() + "): " + new String(err, StandardCharsets.UTF_8));
        }
        return out;
    }
}
