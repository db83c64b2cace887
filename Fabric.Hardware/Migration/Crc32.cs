namespace Fabric.Hardware.Migration;

/// <summary>
/// CRC-32 as IEEE 802.3, zlib and PNG define it: reflected polynomial 0xEDB88320, initial value 0xFFFFFFFF, final XOR
/// 0xFFFFFFFF (check value of "123456789": 0xCBF43926). It is zlib's <c>crc32()</c> and Python's <c>zlib.crc32</c>, so any
/// tool can verify a saved VM state with its standard library. Written out because System.IO.Hashing is not available.
/// </summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB8_8320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
