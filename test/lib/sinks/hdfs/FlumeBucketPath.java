import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Calendar;
import java.util.HashMap;
import java.util.Map;
import java.util.TimeZone;
import org.apache.flume.formatter.output.BucketPath;

/**
 * Flume 1.11's own BucketPath.escapeString as an oracle for test/lib/sinks/hdfs/bucketPath.test.ts.
 * One case per stdin line, tab-separated, strings as hex of their UTF-8:
 *   template, headers (k=v pairs of hex, comma-separated; "-" for none), zone ("-": the JVM's),
 *   round (0/1), unit (second|minute|hour), value, useLocalTimeStamp (0/1), clock millis
 * One answer per line: "ok<TAB>hex of the result" or "err<TAB>exception class".
 */
public class FlumeBucketPath {
  static String unhex(String hex) {
    byte[] b = new byte[hex.length() / 2];
    for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
    return new String(b, StandardCharsets.UTF_8);
  }

  static String hex(String s) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) out.append(String.format("%02x", b));
    return out.toString();
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, false, "UTF-8");
    final long[] clock = {0};
    BucketPath.setClock(() -> clock[0]);
    for (String line; (line = in.readLine()) != null; ) {
      String[] f = line.split("\t", -1);
      Map<String, String> headers = new HashMap<>();
      if (!f[1].equals("-") && !f[1].isEmpty()) {
        for (String pair : f[1].split(",")) {
          String[] kv = pair.split("=", -1);
          headers.put(unhex(kv[0]), unhex(kv[1]));
        }
      }
      TimeZone zone = f[2].equals("-") ? null : TimeZone.getTimeZone(unhex(f[2]));
      int unit = f[4].equals("hour") ? Calendar.HOUR_OF_DAY : f[4].equals("minute") ? Calendar.MINUTE : Calendar.SECOND;
      clock[0] = Long.parseLong(f[7]);
      try {
        String r = BucketPath.escapeString(unhex(f[0]), headers, zone, f[3].equals("1"), unit, Integer.parseInt(f[5]), f[6].equals("1"));
        out.println("ok\t" + hex(r));
      } catch (Throwable t) {
        out.println("err\t" + t.getClass().getName());
      }
    }
    out.flush();
  }
}
