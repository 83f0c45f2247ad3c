package io.tracecode.examples;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.avro.AvroTypeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads tracecode's status topic to its end and prints each code's last status, one line per
 * code: {@code code <TAB> status <TAB> sub_status <TAB> version}, sorted by code.
 *
 * <p>Usage: {@code LastStatus BOOTSTRAP_SERVERS TOPIC SCHEMAS_DIR}, where SCHEMAS_DIR holds the
 * release folders of tracecode's .avsc files ({@code v1/}, {@code v2/}, ...). Values are Avro
 * single-object encodings: Avro's own {@link BinaryMessageDecoder} reads them, given every
 * released writer schema, into the newest one.
 */
public final class LastStatus {
  private static final String RECORD = "io.tracecode.ShipmentStatusChanged";

  public static void main(String[] args) throws IOException {
    if (args.length != 3) {
      System.err.println("usage: LastStatus BOOTSTRAP_SERVERS TOPIC SCHEMAS_DIR");
      System.exit(2);
    }
    List<Path> releases = releases(Path.of(args[2]));
    Schema current = parseRelease(releases.get(releases.size() - 1)).get(RECORD);
    BinaryMessageDecoder<GenericRecord> decoder =
        new BinaryMessageDecoder<>(GenericData.get(), current);
    for (Path release : releases) {
      decoder.addSchema(parseRelease(release).get(RECORD));
    }

    Properties config = new Properties();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    config.put(ConsumerConfig.GROUP_ID_CONFIG, "last-status-" + UUID.randomUUID());
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    // tracecode writes its outputs in transactions: read only what they committed.
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    Map<String, GenericRecord> last = new TreeMap<>();
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions =
          consumer.partitionsFor(args[1], Duration.ofSeconds(30)).stream()
              .map(info -> new TopicPartition(info.topic(), info.partition()))
              .collect(Collectors.toList());
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofSeconds(1))) {
          GenericRecord change = decoder.decode(record.value());
          GenericRecord seen = last.get(record.key());
          if (seen == null || (long) change.get("version") > (long) seen.get("version")) {
            last.put(record.key(), change);
          }
        }
      }
    }
    for (Map.Entry<String, GenericRecord> entry : last.entrySet()) {
      GenericRecord change = entry.getValue();
      System.out.println(
          String.join(
              "\t",
              entry.getKey(),
              change.get("status").toString(),
              change.get("sub_status").toString(),
              change.get("version").toString()));
    }
  }

  /** The release folders, oldest first. */
  private static List<Path> releases(Path root) throws IOException {
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> folders = Files.newDirectoryStream(root, "v[0-9]*")) {
      folders.forEach(found::add);
    }
    found.sort(Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString().substring(1))));
    if (found.isEmpty()) {
      throw new IOException("no release folders (v1, v2, ...) under " + root);
    }
    return found;
  }

  /**
   * Every named type of one release by full name. Each .avsc file holds one type and refers to
   * the others by name, so a file is parsed after the files it refers to.
   */
  private static Map<String, Schema> parseRelease(Path release) throws IOException {
    List<Path> pending = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(release, "*.avsc")) {
      files.forEach(pending::add);
    }
    List<Path> ordered = new ArrayList<>();
    Map<String, Schema> types = new HashMap<>();
    while (!pending.isEmpty()) {
      boolean progress = false;
      for (Path file : new ArrayList<>(pending)) {
        Schema.Parser parser = new Schema.Parser();
        try {
          for (Path known : ordered) {
            parser.parse(known.toFile());
          }
          Schema schema = parser.parse(file.toFile());
          types.put(schema.getFullName(), schema);
          ordered.add(file);
          pending.remove(file);
          progress = true;
        } catch (SchemaParseException | AvroTypeException undefinedName) {
          // Refers to a type not parsed yet: try again after the others.
        }
      }
      if (!progress) {
        throw new IOException("cannot parse " + pending + " (undefined or broken types)");
      }
    }
    return types;
  }
}
