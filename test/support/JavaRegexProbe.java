import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.*;

/**
 * java.util.regex as an oracle for test/support/javaRegexProbe.ts: one case a line on stdin,
 * "pattern input [replacement]" in base64 (UTF-8); one answer a line on stdout:
 * "E <description>" (PatternSyntaxException), "X <exception>", or "N" / "M start end g1 g2 …" (find(),
 * "-" for a group that did not take part) followed by " R <replaceAll>" (or " RE") when asked.
 */
public class JavaRegexProbe {
  static String enc(String s) { return s == null ? "-" : Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8)); }
  static String dec(String s) { return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8); }

  public static void main(String[] args) throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "UTF-8");
    String line;
    while ((line = in.readLine()) != null) {
      String[] f = line.split(" ", -1);
      StringBuilder sb = new StringBuilder();
      try {
        Pattern p = Pattern.compile(dec(f[0]));
        String input = dec(f[1]);
        Matcher m = p.matcher(input);
        if (m.find()) {
          sb.append("M ").append(m.start()).append(' ').append(m.end());
          for (int g = 1; g <= m.groupCount(); g++) sb.append(' ').append(enc(m.group(g)));
        } else sb.append('N');
        if (f.length > 2) {
          try { sb.append(" R ").append(enc(p.matcher(input).replaceAll(dec(f[2])))); }
          catch (RuntimeException e) { sb.append(" RE"); }
        }
      } catch (PatternSyntaxException e) {
        sb.setLength(0);
        sb.append("E ").append(enc(e.getDescription()));
      } catch (Throwable e) {
        sb.setLength(0);
        sb.append("X ").append(enc(e.toString()));
      }
      out.println(sb);
    }
    out.flush();
  }
}
