package dev.vhostd.daemon.metrics;

import picocli.CommandLine;

/**
 * Lets picocli parse {@code --metrics}: {@code @Option(names = "--metrics", converter =
 * MetricsAddressConverter.class) MetricsAddress metrics;} (null when the option is absent, which
 * means metrics are off).
 */
public final class MetricsAddressConverter implements CommandLine.ITypeConverter<MetricsAddress> {
    @Override
    public MetricsAddress convert(String value) {
        try {
            return MetricsAddress.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
