import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Kafka's own Java client as the tests' oracle (run by `java` as a source file with the broker's jars,
 * test/support/kafkaProbe.ts): `KafkaProbe <bootstrap> <command>...`, each command one of
 *   read <topic> <count>                 prints "R <topic> <base64 value>" per record of partition 0
 *   size <topic>                          prints "S <topic> <bytes>": partition 0's log size on the broker
 *   write <topic> <codec> <count> <text>  produces "<text> <i>" (i = 0..count-1) with compression.type codec
 */
public class KafkaProbe {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    for (int i = 1; i < args.length; ) {
      switch (args[i]) {
        case "read" -> { read(bootstrap, args[i + 1], Integer.parseInt(args[i + 2])); i += 3; }
        case "size" -> { size(bootstrap, args[i + 1]); i += 2; }
        case "write" -> { write(bootstrap, args[i + 1], args[i + 2], Integer.parseInt(args[i + 3]), args[i + 4]); i += 5; }
        default -> throw new IllegalArgumentException("unknown command " + args[i]);
      }
    }
  }

  static void read(String bootstrap, String topic, int count) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    p.put("enable.auto.commit", "false");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      int seen = 0;
      long deadline = System.currentTimeMillis() + 60_000;
      while (seen < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          System.out.println("R " + topic + " " + Base64.getEncoder().encodeToString(r.value()));
          seen++;
        }
      }
    }
  }

  static void size(String bootstrap, String topic) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    try (Admin admin = Admin.create(p)) {
      Map<Integer, Map<String, LogDirDescription>> dirs = admin.describeLogDirs(admin.describeCluster().nodes().get().stream().map(n -> n.id()).toList()).allDescriptions().get();
      long bytes = 0;
      for (Map<String, LogDirDescription> byDir : dirs.values())
        for (LogDirDescription d : byDir.values()) {
          ReplicaInfo info = d.replicaInfos().get(new TopicPartition(topic, 0));
          if (info != null) bytes += info.size();
        }
      System.out.println("S " + topic + " " + bytes);
    }
  }

  static void write(String bootstrap, String topic, String codec, int count, String text) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    p.put("compression.type", codec);
    p.put("linger.ms", "50");
    p.put("acks", "all");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++)
        sent.add(producer.send(new ProducerRecord<>(topic, 0, null, (text + " " + i).getBytes(StandardCharsets.UTF_8))));
      for (java.util.concurrent.Future<?> f : sent) f.get();
    }
    System.out.println("W " + topic);
  }
}
