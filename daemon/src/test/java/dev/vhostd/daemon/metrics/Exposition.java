package dev.vhostd.daemon.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads back the Prometheus text format that a scrape produced, for assertions. */
final class Exposition {
    record Sample(String name, Map<String, String> labels, double value) {}

    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

    private final List<Sample> samples = new ArrayList<>();

    Exposition(String text) {
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.lastIndexOf(' ');
            Map<String, String> labels = new TreeMap<>();
            String name;
            if (brace >= 0 && brace < space) {
                name = line.substring(0, brace);
                int end = line.lastIndexOf('}');
                Matcher m = LABEL.matcher(line.substring(brace + 1, end));
                while (m.find()) {
                    labels.put(m.group(1), m.group(2));
                }
            } else {
                name = line.substring(0, space);
            }
            samples.add(new Sample(name, labels, Double.parseDouble(line.substring(space + 1))));
        }
    }

    /** All sample names (with _total, _bucket, _sum, _count as exposed). */
    Set<String> names() {
        Set<String> names = new TreeSet<>();
        samples.forEach(s -> names.add(s.name()));
        return names;
    }

    /** Label names seen on samples of {@code name}. */
    Set<String> labelNames(String name) {
        Set<String> out = new TreeSet<>();
        samples.stream().filter(s -> s.name().equals(name)).forEach(s -> out.addAll(s.labels().keySet()));
        return out;
    }

    /** The value of the one sample with this name whose labels include all of {@code match}. */
    double value(String name, Map<String, String> match) {
        List<Sample> found = samples.stream()
                .filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(match.entrySet()))
                .toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one sample " + name + match + ", found " + found);
        }
        return found.getFirst().value();
    }

    long count(String name) {
        return samples.stream().filter(s -> s.name().equals(name)).count();
    }
}
