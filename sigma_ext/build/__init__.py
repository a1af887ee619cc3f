"""Compiling rules for the SIEM targets and writing the packages a SOC imports."""
