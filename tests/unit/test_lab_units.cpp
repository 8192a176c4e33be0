// Lab units (issue 13, "Units and words"). Golden strings worked out by hand from the unit
// definitions (1 day = 86,400 s, 1 year = 365.25 days, SI prefixes), not from the code.
#include "dira/app/lab_units.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace dira::app::lab_units;

TEST_CASE("durations read in the unit a person uses", "[units]") {
  CHECK(duration(0.42) == "0.42 s");
  CHECK(duration(45) == "45 s");
  CHECK(duration(150) == "2.50 min");  // 150 / 60
  CHECK(duration(3 * 3600) == "3.00 h");
  // 10^6.8 s = 6,309,573 s = 73.03 days (the example, printed today as "10^6.8 s").
  CHECK(duration(std::pow(10.0, 6.8)) == "73.0 days");
  CHECK(duration(3.2 * 365.25 * 86400) == "3.20 years");
  CHECK(duration(-1) == "unknown");
  CHECK(duration(std::nan("")) == "unknown");
}

TEST_CASE("sizes and rates in lab units", "[units]") {
  CHECK(bytes(512) == "512 B");
  CHECK(bytes(1500) == "1.50 kB");
  CHECK(bytes(1.2e9) == "1.20 GB");
  CHECK(bytes(4e12) == "4.00 TB");
  CHECK(click_rate(850) == "850 cps");
  CHECK(click_rate(12500) == "12.5 kcps");
  CHECK(click_rate(1.2e6) == "1.20 Mcps");
  CHECK(trial_rate(7.74e6) == "7.74 M trials/s");
}

TEST_CASE("significant digits: plain in the middle, scientific at the ends", "[units]") {
  CHECK(significant(1.0) == "1.00");
  CHECK(significant(0.00125) == "0.00125");
  CHECK(significant(1e-9) == "1.00e-9");
  CHECK(significant(1.41e13) == "1.41e13");
  CHECK(significant(9.996) == "10.0");  // the carry into a new digit keeps three digits
  CHECK(significant(1e-3, 2) == "0.0010");
}

TEST_CASE("counts agree in number with their noun", "[units]") {
  CHECK(count(1, "bit") == "1 bit");
  CHECK(count(0, "bit") == "0 bits");
  CHECK(count(258, "bit") == "258 bits");
  CHECK(count(124718, "trial") == "124,718 trials");
  CHECK(count(1.4e13, "trial") == "1.40e13 trials");
  CHECK(grouped(1234) == "1,234");
  CHECK(grouped(123) == "123");
  CHECK(grouped(12345678) == "12,345,678");
}

#include "dira/app/progress_line.hpp"

TEST_CASE("the progress line fits the terminal and keeps the test in view", "[units]") {
  dira::app::Progress p;
  p.trials = 1234567;
  p.planned = 4000000;
  p.rate = 7.74e6;
  p.elapsed_s = 12;
  p.live.bell_mean = 0.123456;
  p.live.bell_half_width = 0.0012;
  p.live.bell_threshold = 0.2;
  p.live.has_ustar = true;
  p.live.ustar_mean = 0.61;
  p.live.ustar_half_width = 0.01;
  p.live.ustar_threshold = 0.5;
  p.live.projected = dira::protocol::Verdict::accept;
  for (std::size_t cols : {40u, 60u, 80u, 100u, 200u}) {
    const auto line = dira::app::progress_line(p, cols);
    CHECK(dira::app::display_width(line) <= cols);
    // The percentage is the last thing to go.
    CHECK(line.rfind("30.9%", 0) == 0);  // 1,234,567 / 4,000,000 = 30.86 %
  }
  const auto wide = dira::app::progress_line(p, 200);
  CHECK(wide.find("→ accept likely") != std::string::npos);
  CHECK(wide.find("Bell 0.1235 ± 0.0012 (≤ 0.2000)") != std::string::npos);
  CHECK(wide.find("7.74 M trials/s") != std::string::npos);
  // At 80 columns the statistic and the projection survive; the elapsed time goes first.
  const auto narrow = dira::app::progress_line(p, 80);
  CHECK(narrow.find("Bell") != std::string::npos);
  CHECK(narrow.find("accept likely") != std::string::npos);
  CHECK(narrow.find("elapsed") == std::string::npos);
  CHECK(dira::app::display_width("± ≤ →") == 5);

  // The last snapshot carries the decision: the final line says it, not a projection that the
  // live band left undecided (issue 13: the line once ended "→ undecided" above "decision accept").
  p.live.projected = dira::protocol::Verdict::undecided;
  p.trials = p.planned;
  p.stage = "done";
  p.decision = "accept";
  const auto last = dira::app::progress_line(p, 100);
  CHECK(last.find("→ decision accept") != std::string::npos);
  CHECK(last.find("undecided") == std::string::npos);

  // The scheduler's look-ahead, from its counters and the assembler's (hand: 1,300,000 −
  // 1,234,567 = 65,433), shown on a wide terminal and the first part dropped on a narrow one.
  p.scheduler.delivered = 1300000;
  p.assembly.trials = 1234567;
  CHECK(dira::app::progress_line(p, 200).find("settings 65,433 ahead") != std::string::npos);
  CHECK(dira::app::progress_line(p, 100).find("ahead") == std::string::npos);
}

TEST_CASE("Protocol A's progress line names Z_k and the probability that its test accepts now", "[units]") {
  dira::app::Progress p;
  p.trials = 1000;
  p.planned = 4000;
  p.protocol = 'A';
  p.live.bell_mean = 0.00125;
  p.live.bell_half_width = 0.0004;
  p.live.bell_threshold = 0.0032;
  p.live.accept_probability = 0.9876;
  p.live.projected = dira::protocol::Verdict::undecided;
  const auto line = dira::app::progress_line(p, 200);
  INFO(line);
  CHECK(line.find("E[Z_k] 0.001250 ± 4.0e-4 (≤ 0.003200)") != std::string::npos);
  CHECK(line.find("P(accept now) 98.8%") != std::string::npos);
}
