import java.io.*;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;

/**
 * Apache Avro's own reader (the avro jar among Flume's) as an oracle for test/support/avroFileProbe.ts:
 * each argument is an Avro object container file of Flume `Event` records; for each file, a line
 * "F <codec>" then one line a record: the body and each header name and value, in base64 (UTF-8),
 * "R body name1 value1 name2 value2 …". An unreadable file prints "X <exception>" and exits 1.
 */
public class AvroFileProbe {
  static String enc(byte[] b) { return Base64.getEncoder().encodeToString(b); }
  static String enc(String s) { return enc(s.getBytes(StandardCharsets.UTF_8)); }

  public static void main(String[] args) throws IOException {
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "UTF-8");
    for (String file : args) {
      try (DataFileReader<GenericRecord> reader = new DataFileReader<>(new File(file), new GenericDatumReader<GenericRecord>())) {
        out.println("F " + reader.getMetaString("avro.codec"));
        for (GenericRecord record : reader) {
          ByteBuffer body = (ByteBuffer) record.get("body");
          byte[] bytes = new byte[body.remaining()];
          body.get(bytes);
          StringBuilder sb = new StringBuilder("R ").append(enc(bytes));
          Map<?, ?> headers = (Map<?, ?>) record.get("headers");
          for (Map.Entry<?, ?> e : headers.entrySet()) sb.append(' ').append(enc(e.getKey().toString())).append(' ').append(enc(e.getValue().toString()));
          out.println(sb);
        }
      } catch (Exception e) {
        out.println("X " + enc(e.toString()));
        out.flush();
        System.exit(1);
      }
    }
    out.flush();
  }
}
